using System.Collections.Generic;

// Fills Mono's heap, limited to the problem's memory limit by MONO_GC_PARAMS=max-heap-size.
class Hoard
{
    static void Main()
    {
        var hoard = new List<long[]>();
        while (true) hoard.Add(new long[1 << 20]);
    }
}
