// Fills the JVM's heap, limited to the problem's memory limit by -Xmx.
object Hoard {
  def main(args: Array[String]): Unit = {
    val hoard = scala.collection.mutable.ArrayBuffer[Array[Long]]()
    while (true) hoard += new Array[Long](1 << 20)
  }
}
