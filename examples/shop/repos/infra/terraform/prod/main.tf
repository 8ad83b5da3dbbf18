terraform {
  required_version = ">= 1.9"
  backend "s3" {
    bucket               = "acme-shop-terraform-state"
    key                  = "infra.tfstate"
    region               = "eu-west-1"
    workspace_key_prefix = "env"
  }
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
  }
}

provider "aws" {
  region = "eu-west-1"
}

module "eks" {
  source = "../modules/eks"
  name   = "prod"
}
