//! What the JVM languages (Java, Kotlin, Scala) need beyond the language table: the file name a
//! Java source must have, and the class to run once compiled.
//!
//! Java wants a public class `X` in `X.java`, so the source is saved under its public class's name
//! (`Main` when there is none). Any package declaration is fine: sources are compiled with `-d .`,
//! so `package a.b;` puts the classes in `a/b/`, and the class run is named in full (`a.b.Main`).
//! Which class that is, is read from the compiled class files themselves (with `cafebabe`), the
//! same way for the three languages: the class with `public static void main(String[])`. A program
//! with no such class does not compile: [`main_class`] says so in words a learner understands.

use sandbox::files::FileTree;

/// The name of the public top-level class of a Java source, which must also be its file name.
pub fn java_public_class(source: &str) -> Option<String> {
    let tokens = java_tokens(source);
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "public" {
            let mut j = i + 1;
            while j < tokens.len()
                && matches!(
                    tokens[j].as_str(),
                    "final" | "abstract" | "static" | "strictfp" | "sealed"
                )
            {
                j += 1;
            }
            if j + 1 < tokens.len() && matches!(tokens[j].as_str(), "class" | "record" | "enum" | "interface")
            {
                let name = &tokens[j + 1];
                if name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    return Some(name.clone());
                }
            }
        }
        i += 1;
    }
    None
}

/// Identifier-ish tokens of a Java source with comments, strings and characters removed.
fn java_tokens(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let b: Vec<char> = source.chars().collect();
    let mut i = 0;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            flush(&mut cur, &mut out);
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            flush(&mut cur, &mut out);
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            flush(&mut cur, &mut out);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            cur.push(c);
            i += 1;
        } else {
            flush(&mut cur, &mut out);
            if c == '{' {
                // Only top-level declarations matter; the first brace ends the search space of
                // each declaration well enough for `public class X {`.
                out.push("{".into());
            }
            i += 1;
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The class, among the compiled `.class` files of `program`, that declares
/// `public static void main(String[])`, by its full name (`a.b.Main`). A top-level class wins over
/// a nested one, then the shorter name. `Err`: the message a learner sees when there is none.
pub fn main_class(program: &FileTree) -> Result<String, String> {
    let mut candidates = Vec::new();
    for (name, data, _) in program {
        if !name.ends_with(".class") {
            continue;
        }
        let mut options = cafebabe::ParseOptions::default();
        options.parse_bytecode(false);
        let Ok(class) = cafebabe::parse_class_with_options(data, &options) else {
            continue;
        };
        let entry = class.methods.iter().any(|m| {
            use cafebabe::MethodAccessFlags as F;
            m.name == "main"
                && m.access_flags.contains(F::PUBLIC | F::STATIC)
                && m.descriptor.to_string() == "([Ljava/lang/String;)V"
        });
        if entry {
            candidates.push(class.this_class.replace('/', "."));
        }
    }
    candidates.sort_by_key(|c| (c.contains('$'), c.len(), c.clone()));
    candidates.into_iter().next().ok_or_else(|| {
        "no class declares `public static void main(String[] args)`: the program has no entry \
         point (in Kotlin: a top-level `fun main()`; in Scala: `def main(args: Array[String])` in \
         an `object`)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_class_is_found_past_comments_and_strings() {
        let src = "// public class Fake {}\n/* public class Nope */ import java.util.*;\nclass A {}\npublic final class Solution { String s = \"public class X\"; }";
        assert_eq!(java_public_class(src).as_deref(), Some("Solution"));
        assert_eq!(java_public_class("class Main {}"), None);
    }

    #[test]
    fn files_that_are_not_classes_have_no_main() {
        let program = vec![("Main.class".to_owned(), b"not a class".to_vec(), false)];
        let e = main_class(&program).expect_err("no class");
        assert!(e.contains("public static void main"), "{e}");
    }
}
