class Program
{
    static void Main()
    {
        int x = "three";
        System.Console.WriteLine(x);
    }
}
