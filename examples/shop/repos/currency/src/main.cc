// Currency: exchange rates and conversion over gRPC.
#include <cstdio>

int main() {
    std::puts("currency: listening on :50051");
    return 0;
}
