public class Missing { public static void main(String[] a) { undefined(); } }
