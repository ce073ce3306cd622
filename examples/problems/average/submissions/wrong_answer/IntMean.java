import java.util.Scanner;

public class IntMean {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        int n = in.nextInt();
        long s = 0;
        for (int i = 0; i < n; i++) s += in.nextInt();
        System.out.println(s / n);
    }
}
