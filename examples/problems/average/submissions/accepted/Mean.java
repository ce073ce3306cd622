import java.io.*;
import java.util.*;

public class Mean {
    public static void main(String[] args) throws IOException {
        StreamTokenizer in = new StreamTokenizer(new BufferedReader(new InputStreamReader(System.in)));
        in.nextToken();
        int n = (int) in.nval;
        double s = 0;
        for (int i = 0; i < n; i++) { in.nextToken(); s += in.nval; }
        System.out.println(s / n);
    }
}
