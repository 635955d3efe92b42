# The variables every root-module test file starts from: terraform test loads
# terraform.tfvars from the test directory, and a file's own variables block
# or a run's override it. "test" joins the default non-production environments
# ("local", "dev": authorizer.tftest.hcl relies on them) so the stack can go
# without the $connect authorizer, which authorizer.tftest.hcl and
# subscriptions.tftest.hcl configure themselves.
environment                 = "test"
non_production_environments = ["local", "dev", "test"]
authorizer                  = { enabled = false }
