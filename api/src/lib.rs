//! carepath's HTTP API for product code and operators (ARCHITECTURE §6),
//! with its OpenAPI document generated from the handlers.

pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod routes;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use carepath_activities::VendorsConfig;
use carepath_workflows::Engine;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use routes::{
    bulk, detail, events, health, inbox, intake_review, journeys, matching, privacy, rejections,
    repair, search, tokens, vendors, webhooks,
};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// The engine, with the vendors' webhook sources the webhook door
    /// verifies and keys deliveries by (`Engine::with_webhook_sources`).
    pub engine: Engine,
    pub vendors: Arc<VendorsConfig>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "carepath", description = "Durable telehealth patient journeys"),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(journeys::start, journeys::list))
        .routes(routes!(journeys::get))
        .routes(routes!(search::search))
        .routes(routes!(journeys::history_of))
        .routes(routes!(detail::steps_of))
        .routes(routes!(detail::reveal_output))
        .routes(routes!(events::journey_events))
        .routes(routes!(events::all_events))
        .routes(routes!(journeys::verify))
        .routes(routes!(journeys::input))
        .routes(routes!(journeys::signal))
        .routes(routes!(matching::show, matching::decide))
        .routes(routes!(matching::people))
        .routes(routes!(intake_review::show, intake_review::decide))
        .routes(routes!(journeys::pause))
        .routes(routes!(journeys::resume))
        .routes(routes!(journeys::retry))
        .routes(routes!(journeys::cancel))
        .routes(routes!(journeys::wake))
        .routes(routes!(repair::fire_wait))
        .routes(routes!(repair::inject))
        .routes(routes!(repair::rewind))
        .routes(routes!(journeys::bulk_retry))
        .routes(routes!(bulk::plan))
        .routes(routes!(bulk::confirm))
        .routes(routes!(vendors::list))
        .routes(routes!(vendors::pause))
        .routes(routes!(vendors::resume))
        .routes(routes!(webhooks::receive))
        .routes(routes!(inbox::list))
        .routes(routes!(inbox::replay))
        .routes(routes!(inbox::skip))
        .routes(routes!(inbox::replay_many))
        .routes(routes!(inbox::skip_many))
        .routes(routes!(inbox::rejections))
        .routes(routes!(rejections::replay))
        .routes(routes!(tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::end_console_sessions))
        .routes(routes!(privacy::erase_patient))
        .routes(routes!(privacy::keys))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(health::openapi))
}

/// The OpenAPI 3 document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented().split_for_parts().1;
    BodyRejections.modify(&mut doc);
    JourneyLinks.modify(&mut doc);
    doc
}

/// Links from a started journey (`POST /v1/journeys`, 200 and 201) to the
/// operations on `/v1/journeys/{id}…`, its `id` from the answer: what a client
/// can do next, and the path a stateful tester follows to real journeys. Not
/// to its patient match (or the match's people), which exists only once a
/// consult has matched.
struct JourneyLinks;

impl Modify for JourneyLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let targets: Vec<String> = openapi
            .paths
            .paths
            .iter()
            .filter(|(path, _)| {
                path.starts_with("/v1/journeys/{id}") && !path.contains("/patient-match")
            })
            .flat_map(|(_, item)| operations(item))
            .filter_map(|op| op.operation_id.clone())
            .collect();
        let Some(start) = openapi
            .paths
            .paths
            .get_mut("/v1/journeys")
            .and_then(|item| item.post.as_mut())
        else {
            return;
        };
        for status in ["200", "201"] {
            if let Some(RefOr::T(response)) = start.responses.responses.get_mut(status) {
                for target in &targets {
                    response.links.insert(
                        target.clone(),
                        LinkBuilder::new()
                            .operation_id(target.clone())
                            .parameter("id", "$response.body#/id")
                            .build()
                            .into(),
                    );
                }
            }
        }
    }
}

/// The operations of a path item, in the methods the API uses.
fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Every operation that reads a body answers 400 (`malformed`) to one that
/// is not JSON and 413 (`payload_too_large`) past [`BODY_LIMIT`], before its
/// handler runs: said once here, for every such operation, rather than in
/// each annotation where a new route could forget it.
struct BodyRejections;

impl Modify for BodyRejections {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let malformed = error("The body is not JSON (`malformed`)");
        let too_large = error(&format!(
            "The body is larger than {} KiB (`payload_too_large`)",
            BODY_LIMIT / 1024
        ));
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item).filter(|op| op.request_body.is_some()) {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("400".into())
                    .or_insert_with(|| malformed.clone().into());
                responses
                    .entry("413".into())
                    .or_insert_with(|| too_large.clone().into());
            }
        }
    }
}

/// Every route [`documented`] serves, plus `/docs`: Swagger UI (vendored in
/// the binary: nothing is fetched from elsewhere) reading `/openapi.json`,
/// and the operator console under `/console` ([`console`]).
pub fn router(state: AppState) -> Router {
    router_with(state, console::ConsoleConfig::default())
}

/// [`router`], with the console set up by `console` (sign-in through an
/// OpenID Connect provider, say).
pub fn router_with(state: AppState, console: console::ConsoleConfig) -> Router {
    let (router, _) = documented().split_for_parts();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json"));
    let api: Router = router
        .merge(Router::from(docs))
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state.clone());
    api.clone().merge(console::router(state, api, console))
}

/// Serves [`router`] on `listener` until the process ends.
///
/// # Errors
/// The listener's.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Serves [`router_with`] on `listener` until the process ends.
///
/// # Errors
/// The listener's.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    console: console::ConsoleConfig,
) -> std::io::Result<()> {
    axum::serve(listener, router_with(state, console)).await
}
