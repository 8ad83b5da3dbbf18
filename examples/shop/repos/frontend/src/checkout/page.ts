// Checkout pages: call the checkout API (checkout-api) to place an order.
export async function placeOrder(cartId: string): Promise<Response> {
  return fetch("/orders", { method: "POST", body: JSON.stringify({ cart_id: cartId }) });
}
