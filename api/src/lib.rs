//! carepath's HTTP API for product code and operators (ARCHITECTURE §6),
//! with its OpenAPI document generated from the handlers.

pub mod auth;
pub mod error;
pub mod extract;
pub mod routes;
pub mod views;
pub mod webhooks_config;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use carepath_activities::VendorsConfig;
use carepath_workflows::Engine;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use routes::{health, inbox, intake_review, journeys, matching, tokens, vendors, webhooks};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub vendors: Arc<VendorsConfig>,
    pub webhooks: Arc<webhooks_config::WebhookConfig>,
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
        .routes(routes!(journeys::history_of))
        .routes(routes!(journeys::verify))
        .routes(routes!(journeys::input))
        .routes(routes!(journeys::signal))
        .routes(routes!(matching::show, matching::decide))
        .routes(routes!(intake_review::show, intake_review::decide))
        .routes(routes!(journeys::pause))
        .routes(routes!(journeys::resume))
        .routes(routes!(journeys::retry))
        .routes(routes!(journeys::cancel))
        .routes(routes!(journeys::wake))
        .routes(routes!(journeys::bulk_retry))
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
        .routes(routes!(tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(health::openapi))
}

/// The OpenAPI 3 document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

pub fn router(state: AppState) -> Router {
    let (router, _) = documented().split_for_parts();
    router
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}
