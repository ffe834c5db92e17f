//! Every GraphQL document opsdeck sends to Railway. Field names and argument types were checked
//! against Railway's introspection schema (railwayapp/cli `src/gql/schema.json`, 2026-08-21);
//! the tests match request bodies against these constants, so a change here is a change to
//! the wire contract. Operation names start with `Opsdeck` so Railway can tell our traffic apart.

/// Account token test (`me` works only for account tokens; docs "Using an account token").
pub const PROBE_ACCOUNT: &str = "query OpsdeckMe { me { id email name } }";

/// Workspace token test: "Introspect the current API token and its accessible workspaces".
pub const PROBE_WORKSPACE: &str = "query OpsdeckApiToken { apiToken { workspaces { id name } } }";

/// Project token test and metrics source: the token's project, environment and services.
/// `projectToken` is "a single project token by the value in the header".
pub const PROJECT_TOKEN: &str = "query OpsdeckProjectToken { projectToken { projectId environmentId project { id name services(first: 100) { edges { node { id name } } pageInfo { hasNextPage } } } environment { id name } } }";

/// Workspaces of an account token (`User.workspaces`, as the Railway CLI reads them).
pub const ACCOUNT_WORKSPACES: &str = "query OpsdeckWorkspaces { me { workspaces { id name } } }";

/// One page of a workspace's projects with their services (Relay pagination).
pub const PROJECTS: &str = "query OpsdeckProjects($workspaceId: String, $first: Int, $after: String) { projects(workspaceId: $workspaceId, first: $first, after: $after) { edges { node { id name services(first: 100) { edges { node { id name } } pageInfo { hasNextPage } } } } pageInfo { hasNextPage endCursor } } }";

/// One page of a project's deployments. Railway has no date filter on `deployments`, so the
/// window is applied to `createdAt` on our side.
pub const DEPLOYMENTS: &str = "query OpsdeckDeployments($input: DeploymentListInput!, $first: Int, $after: String) { deployments(input: $input, first: $first, after: $after) { edges { node { id status createdAt serviceId environmentId staticUrl } } pageInfo { hasNextPage endCursor } } }";

/// The workspace's billing customer: usage so far and the billing period. `currentUsage` is in
/// dollars (the Railway CLI's `railway usage` prints it as such) and is cached by Railway.
pub const BILLING: &str = "query OpsdeckBilling($workspaceId: String!) { workspace(workspaceId: $workspaceId) { id name customer { currentUsage billingPeriod { start end } } } }";

/// Metered usage so far in the billing period and Railway's estimate for the whole period, for
/// the measurements Railway bills. Deleted projects are included because they are billed.
pub const USAGE_ESTIMATE: &str = "query OpsdeckUsageEstimate($workspaceId: String!, $measurements: [MetricMeasurement!]!, $startDate: DateTime!, $endDate: DateTime!) { usage(workspaceId: $workspaceId, measurements: $measurements, startDate: $startDate, endDate: $endDate, includeDeleted: true) { measurement value } estimatedUsage(workspaceId: $workspaceId, measurements: $measurements, includeDeleted: true) { measurement estimatedValue } }";

/// The measurements Railway bills, with their list price per unit in dollars. Units follow
/// from the prices the Railway CLI applies (`src/commands/usage.rs`) and the pricing page
/// (`docs/pricing/plans.md`): CPU in vCPU-minutes ($20 per vCPU-month), memory, volume and
/// backup in GB-minutes ($10 and $0.15 per GB-month), egress in GB ($0.05 per GB). A month is
/// 43,200 minutes (30 days) in Railway's arithmetic.
pub const PRICED_MEASUREMENTS: &[(&str, f64)] = &[
    ("MEMORY_USAGE_GB", 10.0 / 43_200.0),
    ("CPU_USAGE", 20.0 / 43_200.0),
    ("NETWORK_TX_GB", 0.05),
    ("DISK_USAGE_GB", 0.15 / 43_200.0),
    ("BACKUP_USAGE_GB", 0.15 / 43_200.0),
];

/// Projects and deployments per page (Railway accepts larger pages; 100 keeps answers small).
pub const PAGE_SIZE: u32 = 100;
