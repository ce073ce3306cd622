fun main() {
    val x: Int = "three"
    println(x)
}
