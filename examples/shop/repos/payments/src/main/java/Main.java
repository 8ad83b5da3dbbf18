// Payments: card and wallet payments via the PSP; ledger in PostgreSQL.
public final class Main {
    public static void main(String[] args) {
        System.out.println("payments: listening on :50051");
    }
}
