import java.util.ArrayList;
import java.util.List;

// Fills the heap: the JVM's own limit (-Xmx, the problem's memory limit) is reached first.
public class Hoard {
    public static void main(String[] args) {
        List<long[]> hoard = new ArrayList<>();
        while (true) hoard.add(new long[1 << 20]);
    }
}
