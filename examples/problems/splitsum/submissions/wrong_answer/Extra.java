import java.util.Scanner;

public class Extra {
    public static void main(String[] args) {
        long n = new Scanner(System.in).nextLong();
        System.out.println("1 " + (n - 1) + " 0");
    }
}
