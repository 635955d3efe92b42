# The $connect authorizer of the root module, plan mode with a mocked AWS:
# built and attached by default, its environment and least-privilege policy
# for each key source, bring-your-own and off, and the refusals that keep
# production from being opened by mistake.
# Run: make tftest (terraform test -test-directory=tests/tftest)

mock_provider "aws" {
  # Mocked computed values and per-resource overrides (tests/tftest/mocks) are
  # known at plan time, so policies and outputs built from ARNs can be
  # asserted in plan-mode runs.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

variables {
  environment = "prod"
  authorizer = {
    issuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
    audience = ["app-client-1"]
    jwks_url = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
  }
}

run "jwks_authorizer_is_built_and_attached" {
  command = plan

  assert {
    condition     = output.function_names.authorizer == "realtime-prod-authorizer" && output.connect_authorizer_function_name == "realtime-prod-authorizer"
    error_message = "The stack must build its own authorizer function by default."
  }
  assert {
    condition = (
      local.connect_authorizer.function_arn == module.function["authorizer"].arn &&
      local.connect_authorizer.identity_sources == tolist(["route.request.querystring.token"])
    )
    error_message = "$connect must use the stack's authorizer, requiring the token query parameter."
  }
  assert {
    # The variables every function gets (local.common_environment) plus the authorizer's own.
    condition = module.function["authorizer"].environment_variables == tomap(merge(local.common_environment, {
      JWT_ISSUER         = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
      JWT_AUDIENCE       = "app-client-1"
      JWKS_URL           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
      CONNECT_ROUTE_ARN  = "arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/$connect"
      USER_ID_CLAIM      = "sub"
      ROLE_CLAIM         = "role"
      ALLOWED_ROLES      = "dispatcher,responder,supervisor,viewer"
      JWT_LEEWAY_SECONDS = "30"
      AUTH_CACHE_SECONDS = "0"
      JWT_ALGORITHMS     = "RS256"
      # var.subscriptions (subscriptions.tftest.hcl): the claim, the default, the size limit.
      AREAS_CLAIM   = "areas"
      DEFAULT_AREAS = jsonencode(["*"])
      FILTER_LIMITS = jsonencode({ areas_max_bytes = 4096, max_bytes = 2048, values_per_field = 20 })
    }))
    error_message = "The authorizer's environment does not match its contract (functions/README.md)."
  }
  assert {
    # A JWKS authorizer calls no AWS API: its role may only write its own logs.
    condition     = [for s in jsondecode(module.function["authorizer"].policy).Statement : s.Sid] == ["WriteOwnLogGroup"]
    error_message = "A JWKS authorizer needs no permission besides its own log group."
  }
  assert {
    condition     = module.function["connect"].environment_variables.ALLOW_QUERY_IDENTITY == "false"
    error_message = "Production must not take identities from the query string."
  }
}

run "ssm_secret_authorizer_reads_exactly_its_parameter" {
  command = plan

  variables {
    environment = "dev"
    authorizer = {
      issuer                = "realtime-dev"
      audience              = ["realtime-dev-clients", "realtime-dev-tools"]
      secret_parameter_name = "/realtime/dev/connect-authorizer/hs256-secret"
      secret_kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
      role_claim            = "cognito:groups"
      token_source          = "subprotocol"
      cache_seconds         = 60
    }
  }

  assert {
    condition = [for s in jsondecode(module.function["authorizer"].policy).Statement : { a = s.Action, r = s.Resource } if s.Sid != "WriteOwnLogGroup"] == [
      { a = ["ssm:GetParameter"], r = ["arn:aws:ssm:us-east-1:123456789012:parameter/realtime/dev/connect-authorizer/hs256-secret"] },
      { a = ["kms:Decrypt"], r = ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"] },
    ]
    error_message = "The authorizer may only GetParameter on its one parameter (and Decrypt with its key)."
  }
  assert {
    condition = (
      module.function["authorizer"].environment_variables.JWT_SECRET_PARAMETER == "/realtime/dev/connect-authorizer/hs256-secret" &&
      !contains(keys(module.function["authorizer"].environment_variables), "JWKS_URL") &&
      module.function["authorizer"].environment_variables.JWT_AUDIENCE == "realtime-dev-clients,realtime-dev-tools" &&
      module.function["authorizer"].environment_variables.ROLE_CLAIM == "cognito:groups" &&
      module.function["authorizer"].environment_variables.AUTH_CACHE_SECONDS == "60" &&
      module.function["authorizer"].environment_variables.JWT_ALGORITHMS == "HS256"
    )
    error_message = "The SSM key source, audiences, role claim and cache must reach the function."
  }
  assert {
    # The parameter's name reaches the function; no value of it is anywhere in the plan.
    condition     = alltrue([for v in values(module.function["authorizer"].environment_variables) : !strcontains(v, "SecureString")])
    error_message = "Only the parameter's name may reach the function."
  }
  assert {
    condition     = local.connect_authorizer.identity_sources == tolist(["route.request.header.Sec-WebSocket-Protocol"])
    error_message = "token_source = subprotocol must make the Sec-WebSocket-Protocol header the identity source."
  }
}

run "bring_your_own_authorizer" {
  command = plan

  variables {
    authorizer = {}
    connect_authorizer = {
      function_arn = "arn:aws:lambda:us-east-1:123456789012:function:identity-team-authorizer"
    }
  }

  assert {
    condition     = !contains(keys(output.function_names), "authorizer") && output.connect_authorizer_function_name == null
    error_message = "With connect_authorizer the stack must not build its own."
  }
  assert {
    condition     = local.connect_authorizer.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:identity-team-authorizer"
    error_message = "$connect must use the brought-in authorizer."
  }
}

run "off_in_a_non_production_environment" {
  command = plan

  variables {
    environment          = "local"
    authorizer           = { enabled = false }
    allow_query_identity = true
  }

  assert {
    condition     = !contains(keys(output.function_names), "authorizer") && local.connect_authorizer == null
    error_message = "authorizer.enabled = false must leave $connect without an authorizer."
  }
  assert {
    condition     = module.function["connect"].environment_variables.ALLOW_QUERY_IDENTITY == "true"
    error_message = "allow_query_identity must reach the connect function in a non-production environment."
  }
}

# ---------------------------------------------------------------------------
# No prod by mistake
# ---------------------------------------------------------------------------
# Each listed variable fails on its own value (both read environment, valid
# here): a run fails with "Missing expected failure" if either accepts it.
run "query_identity_and_turning_the_authorizer_off_are_refused_in_prod" {
  command = plan

  variables {
    allow_query_identity = true
    authorizer           = { enabled = false }
  }

  expect_failures = [var.allow_query_identity, var.authorizer]
}

run "an_environment_outside_the_list_is_production" {
  command = plan

  variables {
    environment          = "staging"
    authorizer           = { enabled = false }
    allow_query_identity = true
  }

  expect_failures = [var.authorizer, var.allow_query_identity]
}

run "the_list_can_name_other_environments" {
  command = plan

  variables {
    environment                 = "sandbox"
    non_production_environments = ["local", "dev", "sandbox"]
    authorizer                  = { enabled = false }
    allow_query_identity        = true
  }

  assert {
    condition     = local.connect_authorizer == null
    error_message = "An environment in non_production_environments may turn the authorizer off."
  }
}

run "prod_cannot_be_declared_non_production" {
  command = plan

  variables {
    non_production_environments = ["dev", "prod"]
  }

  expect_failures = [var.non_production_environments]
}

# ---------------------------------------------------------------------------
# Configuration the authorizer cannot work with
# ---------------------------------------------------------------------------
run "an_unconfigured_authorizer_is_refused" {
  command = plan

  variables {
    authorizer = {}
  }

  expect_failures = [var.authorizer]
}

run "two_key_sources_are_refused" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { secret_parameter_name = "/realtime/prod/secret" })
  }

  expect_failures = [var.authorizer]
}

run "alg_none_is_refused" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { algorithms = ["none"] })
  }

  expect_failures = [var.authorizer]
}

run "hmac_with_a_jwks_is_refused" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { algorithms = ["RS256", "HS256"] })
  }

  expect_failures = [var.authorizer]
}

run "plain_http_jwks_is_refused" {
  command = plan

  variables {
    authorizer = {
      issuer   = "x"
      audience = ["y"]
      jwks_url = "http://issuer.example.com/jwks.json"
    }
  }

  expect_failures = [var.authorizer]
}

run "a_secret_value_is_not_a_parameter_name" {
  command = plan

  variables {
    environment = "dev"
    authorizer = {
      issuer                = "x"
      audience              = ["y"]
      secret_parameter_name = "my super secret value!"
    }
  }

  expect_failures = [var.authorizer]
}

run "cache_seconds_bound" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { cache_seconds = 3601 })
  }

  expect_failures = [var.authorizer]
}

run "leeway_seconds_bound" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { leeway_seconds = 301 })
  }

  expect_failures = [var.authorizer]
}

# functions reads neither authorizer nor environment: one run proves both.
run "token_source_is_query_or_subprotocol_and_timeout_within_api_gateway_limit" {
  command = plan

  variables {
    authorizer = merge(var.authorizer, { token_source = "header" })
    functions  = { authorizer = { timeout = 30 } }
  }

  expect_failures = [var.authorizer, var.functions]
}
