variable "name" {
  type = string
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  role_arn = "arn:aws:iam::493817265014:role/eks-${var.name}"
  vpc_config {
    subnet_ids = ["subnet-0a1b2c3d", "subnet-1b2c3d4e", "subnet-2c3d4e5f"]
  }
  tags = { team = "platform" }
}

resource "aws_eks_node_group" "default" {
  cluster_name    = var.name # not a reference: the state records no dependency
  node_group_name = "default"
  instance_types  = ["m6i.xlarge"]
  scaling_config {
    desired_size = 3
    min_size     = 3
    max_size     = 6
  }
  tags = { team = "platform" }
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/aws/eks/${var.name}/cluster"
  tags = { team = "platform" }
}
