//! Shipping quotes and parcel tracking; events go to the shipping-events queue.
fn main() {
    println!("shipping: listening on :50051");
}
