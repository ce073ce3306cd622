package main

import "fmt"

func main() {
	x := 1 // declared and not used: Go refuses to compile
	fmt.Println(3)
}
