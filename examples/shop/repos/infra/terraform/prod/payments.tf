variable "payments_db_password" {
  type      = string
  sensitive = true
}

resource "aws_kms_key" "payments" {
  description = "payments database encryption"
  tags        = { service = "payments", team = "payments" }
}

resource "aws_db_instance" "payments" {
  identifier        = "acme-payments-prod"
  engine            = "postgres"
  instance_class    = "db.r6g.large"
  allocated_storage = 100
  username          = "payments"
  password          = var.payments_db_password
  kms_key_id        = aws_kms_key.payments.arn
  storage_encrypted = true
  tags              = { service = "payments", team = "payments" }
}
