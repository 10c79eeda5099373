"""B2B and B2C forecast APIs (aws-lambda-powertools REST resolvers), their OpenAPI document, the
local server that emulates API Gateway for them, and the resident web page.

Hot-path modules (``api``, ``params``, ``tenants``, ``b2b``, ``b2c``) import neither pandas nor
awswrangler: a Lambda cold start pays only for boto3/psycopg, pydantic/yaml (config) and numpy
(``edf.optimization.resident``).
"""
