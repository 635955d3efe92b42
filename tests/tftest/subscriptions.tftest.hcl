# Subscriptions and area-scoped access (issue 17): the subscribe route and its
# function (environment, least-privilege role), the settings each function
# gets from var.subscriptions and the prod example's default. Its handler and
# zip: root_plan.tftest.hcl; its alarms: monitoring.tftest.hcl; the variable's
# validations: root_validation.tftest.hcl.
# Run: terraform test -test-directory=tests/tftest -filter=tests/tftest/subscriptions.tftest.hcl

mock_provider "aws" {
  # Mocked values and per-resource overrides (tables, the API, the functions): tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

variables {
  authorizer = {
    issuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
    audience = ["app-client-1"]
    jwks_url = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
  }
}

run "defaults" {
  command = plan

  assert {
    condition = { for k, v in module.function["subscribe"].environment_variables : k => v if !contains(["LOG_LEVEL", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "ENVIRONMENT", "WS_CALLBACK_URL"], k) } == {
      CONNECTIONS_TABLE = "realtime-test-connections"
      FILTER_FIELDS     = jsonencode(["area", "urgency", "type", "status"])
      FILTER_LIMITS     = jsonencode({ areas_max_bytes = 4096, max_bytes = 2048, values_per_field = 20 })
      DEFAULT_AREAS     = jsonencode(["*"])
      POST_MAX_ATTEMPTS = "4"
      # Paced like the sync's answers: 1,000 posts/s over 10 expected executions.
      POST_RATE = "100"
    }
    error_message = "The subscribe function's settings must come from var.subscriptions, var.fanout, var.sync and the Connections table."
  }
  assert {
    condition     = module.function["subscribe"].environment_variables["WS_CALLBACK_URL"] == module.function["sync"].environment_variables["WS_CALLBACK_URL"]
    error_message = "subscribed answers must be posted to the same management endpoint as sync answers."
  }
  assert {
    condition = [for s in jsondecode(module.function["subscribe"].policy).Statement : { a = s.Action, r = s.Resource } if s.Sid != "WriteOwnLogGroup"] == [
      { a = ["dynamodb:GetItem", "dynamodb:UpdateItem"], r = ["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"] },
      { a = ["execute-api:ManageConnections"], r = ["arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/POST/@connections/*"] },
    ]
    error_message = "The subscribe role may only read and update connection rows and post to this stage's connections."
  }
  assert {
    condition     = module.websocket_api.integrations["subscribe"] == { type = "AWS_PROXY", uri = module.function["subscribe"].invoke_arn, reply = null }
    error_message = "The subscribe route must invoke the subscribe function."
  }
  assert {
    condition = alltrue([for k in ["connect", "disconnect"] :
      module.function[k].environment_variables["FILTER_FIELDS"] == module.function["subscribe"].environment_variables["FILTER_FIELDS"] &&
      module.function[k].environment_variables["FILTER_LIMITS"] == module.function["subscribe"].environment_variables["FILTER_LIMITS"] &&
      module.function[k].environment_variables["DEFAULT_AREAS"] == module.function["subscribe"].environment_variables["DEFAULT_AREAS"]
    ])
    error_message = "$connect (a filter in the query string) must read the same fields, limits and default areas as subscribe."
  }
  assert {
    condition = (
      module.function["authorizer"].environment_variables["AREAS_CLAIM"] == "areas" &&
      module.function["authorizer"].environment_variables["DEFAULT_AREAS"] == jsonencode(["*"]) &&
      module.function["authorizer"].environment_variables["FILTER_LIMITS"] == module.function["subscribe"].environment_variables["FILTER_LIMITS"]
    )
    error_message = "The authorizer reads the areas claim (default \"areas\"), the default areas and the areas' size limit."
  }
}

run "cognito_claim_and_no_default_areas" {
  command = plan

  variables {
    subscriptions = {
      fields        = ["area", "severity"]
      areas_claim   = "custom:areas"
      default_areas = []
      limits        = { values_per_field = 5, max_bytes = 512, areas_max_bytes = 1024 }
    }
  }

  assert {
    condition = (
      module.function["authorizer"].environment_variables["AREAS_CLAIM"] == "custom:areas" &&
      module.function["authorizer"].environment_variables["DEFAULT_AREAS"] == "[]" &&
      module.function["connect"].environment_variables["FILTER_FIELDS"] == jsonencode(["area", "severity"]) &&
      module.function["subscribe"].environment_variables["FILTER_LIMITS"] == jsonencode({ areas_max_bytes = 1024, max_bytes = 512, values_per_field = 5 })
    )
    error_message = "var.subscriptions must reach the authorizer, $connect and subscribe as written."
  }
}

run "prod_example_sees_nothing_without_the_claim" {
  command = plan

  # envs/prod.tfvars' setting, restated here as a test cannot read a tfvars file.
  variables {
    environment   = "prod"
    subscriptions = { default_areas = [] }
  }

  assert {
    condition     = module.function["authorizer"].environment_variables["DEFAULT_AREAS"] == "[]"
    error_message = "With default_areas = [], a token without the areas claim must see nothing."
  }
}
