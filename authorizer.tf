# The $connect REQUEST authorizer this stack builds (functions/authorizer.py,
# build/authorizer.zip): it verifies the client's JWT and hands userId and
# role to the connect handler. It is one more instance of module.function
# (main.tf): its own role, log group and least-privilege policy. A team that
# brings its own authorizer sets connect_authorizer, and then none is built.

# The SSM parameter's ARN is built from its name (main.tf's partition and
# account): no resource of this stack owns the parameter. The function's ARN
# and the $connect route's come from the modules that own them.
locals {
  authorizer_built = var.connect_authorizer == null && var.authorizer.enabled

  # Merged into local.functions (main.tf): keys known at plan time.
  authorizer_functions = local.authorizer_built ? {
    authorizer = {
      description = "WebSocket $connect authorizer: verifies the JWT, passes userId and role"
      handler     = "authorizer.handler"
      package     = "authorizer"
    }
  } : {}

  # The function's output, so the authorizer and its invoke permission wait
  # for the function.
  authorizer_function_arn = local.authorizer_built ? module.function["authorizer"].arn : null

  # The SecureString is read by name; its value never passes through
  # Terraform (no data source: it would land in the state).
  # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html
  authorizer_secret_parameter_arn = !local.authorizer_built || var.authorizer.secret_parameter_name == null ? null : format(
    "arn:%s:ssm:%s:%s:parameter/%s",
    data.aws_partition.current.partition,
    var.region,
    data.aws_caller_identity.current.account_id,
    trimprefix(var.authorizer.secret_parameter_name, "/"),
  )

  # The only route the authorizer's policy allows: this API's $connect,
  # arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect.
  connect_route_arn = "${module.websocket_api.stage_execution_arn}/$connect"

  authorizer_environment = merge(
    {
      JWT_ISSUER         = coalesce(var.authorizer.issuer, "unset")
      JWT_AUDIENCE       = join(",", var.authorizer.audience)
      CONNECT_ROUTE_ARN  = local.connect_route_arn
      USER_ID_CLAIM      = var.authorizer.user_id_claim
      ROLE_CLAIM         = var.authorizer.role_claim
      ALLOWED_ROLES      = join(",", var.allowed_roles)
      JWT_LEEWAY_SECONDS = tostring(var.authorizer.leeway_seconds)
      AUTH_CACHE_SECONDS = tostring(var.authorizer.cache_seconds)
      # null takes the key source's usual algorithm: HS256 for a secret, RS256 for a JWKS.
      JWT_ALGORITHMS = join(",", var.authorizer.algorithms != null ? var.authorizer.algorithms : (
        var.authorizer.secret_parameter_name != null ? ["HS256"] : ["RS256"]
      ))
    },
    {
      AREAS_CLAIM   = var.subscriptions.areas_claim
      DEFAULT_AREAS = jsonencode(var.subscriptions.default_areas)
      FILTER_LIMITS = jsonencode(var.subscriptions.limits)
    },
    var.authorizer.jwks_url == null ? {} : { JWKS_URL = var.authorizer.jwks_url },
    var.authorizer.secret_parameter_name == null ? {} : { JWT_SECRET_PARAMETER = var.authorizer.secret_parameter_name },
  )

  authorizer_policy_statements = concat(
    var.authorizer.secret_parameter_name == null ? [] : [{
      # GetParameter with WithDecryption on exactly the one parameter. The
      # AWS managed key aws/ssm needs no grant; a customer managed key does.
      sid       = "ReadJwtSecret"
      actions   = ["ssm:GetParameter"]
      resources = [local.authorizer_secret_parameter_arn]
    }],
    var.authorizer.secret_kms_key_arn == null ? [] : [{
      # Only through SSM (GetParameter WithDecryption), never directly.
      sid       = "DecryptJwtSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.authorizer.secret_kms_key_arn]
      condition = { StringEquals = { "kms:ViaService" = ["ssm.${local.kms_via_suffix}"] } }
    }],
  )

  # API Gateway checks that the identity source is present before it invokes
  # the authorizer: a flood of token-less connects never reaches Lambda.
  authorizer_identity_sources = {
    query       = ["route.request.querystring.token"]
    subprotocol = ["route.request.header.Sec-WebSocket-Protocol"]
  }

  # What module.websocket_api attaches to $connect: a brought-in authorizer,
  # this stack's own, or (non-production environments only) none.
  connect_authorizer = (
    var.connect_authorizer != null ? var.connect_authorizer :
    local.authorizer_built ? {
      function_arn     = local.authorizer_function_arn
      identity_sources = local.authorizer_identity_sources[var.authorizer.token_source]
    } : null
  )
}
