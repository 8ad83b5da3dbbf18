resource "aws_db_instance" "catalog" {
  identifier        = "acme-catalog-prod"
  engine            = "postgres"
  instance_class    = "db.t4g.medium"
  allocated_storage = 20
  tags              = { service = "catalog", team = "catalog" }
}

resource "aws_s3_bucket" "product_images" {
  bucket = "acme-shop-product-images"
  tags   = { service = "catalog", team = "catalog" }
}

resource "aws_opensearch_domain" "search" {
  domain_name = "acme-search"
  tags        = { service = "search", team = "catalog" }
}
