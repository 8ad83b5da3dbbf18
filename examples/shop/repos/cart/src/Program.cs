// Cart service: shopping carts, kept in Redis (ElastiCache).
Console.WriteLine("cart: listening on :50051");
