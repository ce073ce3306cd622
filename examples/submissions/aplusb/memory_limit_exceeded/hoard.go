package main

// Keeps every megabyte it touches: GOMEMLIMIT (the problem's limit) makes the collector work
// hard, but live data beyond the limit is killed by the cgroup.
func main() {
	var hoard [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		hoard = append(hoard, b)
	}
}
