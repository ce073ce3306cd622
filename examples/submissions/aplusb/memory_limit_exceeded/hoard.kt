// Fills the JVM's heap, limited to the problem's memory limit by -Xmx.
fun main() {
    val hoard = ArrayList<LongArray>()
    while (true) hoard.add(LongArray(1 shl 20))
}
