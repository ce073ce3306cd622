import java.util.Scanner;

public class Split {
    public static void main(String[] args) {
        long n = new Scanner(System.in).nextLong();
        System.out.println((n - 1) + " 1");
    }
}
