//! The pharmacy: one order per fill, followed to delivery; refills after
//! their interval. Order states only move forward.

use carepath_activities::vendors::notify::Channel;
use carepath_activities::vendors::pharmacy::{OrderRequest, PatientName, ShipTo};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::clinician::Prescription;
use super::reconcile::{self, Moved, OrderFound, OrderLookup, Silence};
use super::{AsyncConsult, event_time, until};
use crate::consult::input::ConsultInput;
use crate::store::{alerts, refs};
use crate::webhooks::ORDER;
use crate::webhooks::signals::PHARMACY_ORDER;
use crate::{JourneyCtx, StepError, WorkflowError};

/// Pharmacy order states, in order; an order only ever moves forward.
const ORDER_STATES: [&str; 4] = ["received", "filled", "shipped", "delivered"];
/// States after which an order will not be fulfilled.
const DEAD_STATES: [&str; 3] = ["cancelled", "rejected", "failed"];
/// The alerts an order that moves again resolves.
const ORDER_ALERTS: [&str; 2] = ["fulfilment_stalled", "order_refused"];

fn order_rank(status: &str) -> Option<usize> {
    ORDER_STATES.iter().position(|s| *s == status)
}

impl AsyncConsult {
    /// Places the order for fill `fill` (0 is the first): the fill number
    /// names it, so one prescription fill is one order. It goes to the
    /// patient's name and address from the intake, which are canonical.
    pub(super) async fn place_order(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        clinical_patient: &str,
        rx: &Prescription,
        fill: u32,
    ) -> Result<String, WorkflowError> {
        let journey = ctx.journey_id();
        let (vendors, pool) = (self.vendors.clone(), self.pool.clone());
        let (p, address) = (&intake.patient, &intake.patient.address);
        let order = OrderRequest {
            prescription_id: rx.id.clone(),
            patient_id: clinical_patient.to_owned(),
            external_id: format!("{journey}:fill:{fill}"),
            fill,
            patient_name: PatientName {
                first_name: p.first_name.clone(),
                last_name: p.last_name.clone(),
            },
            ship_to: ShipTo {
                line1: address.line1.clone(),
                line2: address.line2.clone(),
                city: address.city.clone(),
                state: address.state.clone(),
                postal_code: address.postal_code.clone(),
            },
        };
        ctx.step("place_order", |s| async move {
            let created = vendors
                .pharmacy
                .create_order(&order, &s.idempotency_key())
                .await?;
            let id = created["id"]
                .as_str()
                .ok_or_else(|| StepError::permanent("the pharmacy returned no order id"))?;
            refs::link(&pool, journey, "pharmacy", ORDER, id).await?;
            Ok(id.to_owned())
        })
        .await
    }

    /// Follows the first order to delivery, then each refill: a durable timer
    /// until the refill date (from the fill), a check-in, the refill's order.
    pub(super) async fn fulfil(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        clinical_patient: &str,
        rx: &Prescription,
        first_order: String,
    ) -> Result<Vec<String>, WorkflowError> {
        let mut orders = vec![first_order.clone()];
        ctx.set_phase("awaiting_fulfilment");
        let mut filled_at = self.track_order(ctx, intake, &first_order).await?;
        for fill in 1..=rx.refills {
            ctx.set_phase("awaiting_refill");
            ctx.sleep("refill_due", until(filled_at + self.config.refill_interval))
                .await?;
            self.notify(
                ctx,
                "refill_check_in",
                Channel::Email,
                &intake.patient.email,
                "refill_check_in",
            )
            .await?;
            ctx.set_phase("requesting_refill");
            let order = self
                .place_order(ctx, intake, clinical_patient, rx, fill)
                .await?;
            ctx.set_phase("awaiting_fulfilment");
            filled_at = self.track_order(ctx, intake, &order).await?;
            orders.push(order);
        }
        Ok(orders)
    }

    /// Follows an order to delivery; returns when it was filled. An event
    /// older than the order's state (a late `filled` after `shipped`) is
    /// absorbed, a skipped state is implied, an event about an earlier fill's
    /// order is ignored. A pharmacy silent for `fulfilment_check` (backing
    /// off) is asked, and the state it tells moves the order as its webhook
    /// would; an order refused, or not moving for `fulfilment_stall`, raises
    /// an alert — resolved when the order moves — and the journey keeps
    /// waiting for the pharmacy or an operator.
    async fn track_order(
        &self,
        ctx: &mut JourneyCtx,
        intake: &ConsultInput,
        order_id: &str,
    ) -> Result<DateTime<Utc>, WorkflowError> {
        let delivered = ORDER_STATES.len() - 1;
        let mut rank = 0;
        let mut filled_at = None;
        // When the order last moved, as recorded (none yet: since it was placed).
        let mut moved_at = None;
        let mut silent_checks = 0;
        let mut alerted = false;
        let mut silence = Silence::new(&self.config, "pharmacy", ORDER_STATES[rank]);
        while rank < delivered {
            let wait = ctx
                .wait_signal(PHARMACY_ORDER, Some(silence.period()))
                .await?;
            // (status, the time the event names, stalled, learnt by lookup)
            let (status, named_at, stalled, looked_up) = match wait {
                Some(event) => {
                    if event["data"]["order_id"].as_str() != Some(order_id) {
                        continue;
                    }
                    silent_checks = 0;
                    silence.heard();
                    let status = event["data"]["status"].as_str().unwrap_or_default();
                    (status.to_owned(), event_time(&event), false, false)
                }
                None => {
                    let looked = self.check_order(ctx, order_id, rank, moved_at).await?;
                    silent_checks += 1;
                    let stalled = looked.stalled(silent_checks);
                    (looked.status().to_owned(), None, stalled, true)
                }
            };
            let dead = DEAD_STATES.contains(&status.as_str());
            if (dead || stalled) && !alerted {
                let kind = if dead {
                    "order_refused"
                } else {
                    "fulfilment_stalled"
                };
                self.raise_order_alert(ctx, kind, order_id, &status).await?;
                alerted = true;
            }
            let Some(new) = order_rank(&status).filter(|r| *r > rank) else {
                if looked_up {
                    silence.learnt_nothing();
                }
                continue;
            };
            rank = new;
            silence.moved_to(ORDER_STATES[rank]);
            if status == "shipped" {
                let phone = &intake.patient.phone;
                self.notify(ctx, "notify_shipped", Channel::Sms, phone, "order_shipped")
                    .await?;
            }
            let moved = self.record_move(ctx, order_id, &status, named_at).await?;
            let at = moved.at();
            moved_at = Some(at);
            // Got past what was raised: a stall in the next state is news again.
            if moved.re_arms() {
                alerted = false;
            }
            if filled_at.is_none() && new >= 1 {
                filled_at = Some(at);
            }
        }
        // Delivered implies filled, so a time was recorded above.
        filled_at.ok_or_else(|| WorkflowError::fail("order delivered without a recorded fill"))
    }

    /// Records that the order moved to `status`, at the time its event
    /// named (`named_at`) or now: that time (not a clock read on replay)
    /// dates the fill. The order moved, so what was raised about it being
    /// stuck is resolved.
    async fn record_move(
        &self,
        ctx: &mut JourneyCtx,
        order_id: &str,
        status: &str,
        named_at: Option<DateTime<Utc>>,
    ) -> Result<Moved, WorkflowError> {
        let (pool, journey, order) = (self.pool.clone(), ctx.journey_id(), order_id.to_owned());
        let how = format!("the order is {status}");
        ctx.step(&format!("order_{status}"), |_| async move {
            let about = Some(("order_id", order.as_str()));
            let resolved = alerts::resolve(&pool, journey, &ORDER_ALERTS, about, &how).await?;
            Ok::<_, StepError>(Moved::Now {
                at: named_at.unwrap_or_else(Utc::now),
                resolved,
            })
        })
        .await
    }

    /// Asks the pharmacy for the order (its webhooks may be lost). Whether
    /// it is stalled — still at `rank` and not moved for `fulfilment_stall`
    /// since `moved_at` (or since the pharmacy created it) — is judged now
    /// and recorded, so a replay takes the same path.
    async fn check_order(
        &self,
        ctx: &mut JourneyCtx,
        order_id: &str,
        rank: usize,
        moved_at: Option<DateTime<Utc>>,
    ) -> Result<OrderLookup, WorkflowError> {
        let (vendors, order) = (self.vendors.clone(), order_id.to_owned());
        let stall = self.config.fulfilment_stall;
        ctx.step("check_order", |_| async move {
            let found = vendors.pharmacy.get_order(&order).await?;
            let status = found["status"].as_str().unwrap_or_default().to_owned();
            let now = Utc::now();
            let placed = found["created_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let since = moved_at.or(placed).unwrap_or(now);
            let moved = order_rank(&status).is_some_and(|r| r > rank);
            Ok(OrderLookup::Found(OrderFound {
                stalled: !moved && reconcile::stalled(since, now, stall),
                status,
            }))
        })
        .await
    }

    async fn raise_order_alert(
        &self,
        ctx: &mut JourneyCtx,
        kind: &'static str,
        order_id: &str,
        status: &str,
    ) -> Result<(), WorkflowError> {
        let (pool, journey) = (self.pool.clone(), ctx.journey_id());
        let detail = json!({ "order_id": order_id, "status": status });
        ctx.step(&format!("{kind}_alert"), |s| async move {
            Ok(alerts::raise(&pool, journey, kind, &s.key, detail).await?)
        })
        .await
    }
}
