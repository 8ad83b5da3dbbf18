resource "aws_elasticache_cluster" "cart" {
  cluster_id      = "acme-cart-prod"
  engine          = "redis"
  node_type       = "cache.t4g.small"
  num_cache_nodes = 1
  tags            = { service = "cart", team = "checkout" }
}

# No team tag: shipping has no owner yet.
resource "aws_sqs_queue" "shipping_events" {
  name = "shipping-events"
  tags = { service = "shipping" }
}

resource "aws_lb" "frontend" {
  name               = "acme-frontend"
  load_balancer_type = "application"
  tags               = { team = "platform" }
}
