//! The JSON carepath stores, as the document describes it.

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

use carepath_workflows::storable::MAX_MAGNITUDE;

use super::text_pattern;

/// Any JSON value carepath stores (a journey's input, a signal's payload):
/// no NUL character in any string or key and no number of 1e308 or more in
/// magnitude, at every depth (`carepath_workflows::storable`). The API also
/// refuses nesting deeper than 32 levels, which this schema does not say.
pub struct Storable;

impl utoipa::PartialSchema for Storable {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Null, Type::Boolean])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .exclusive_minimum(Some(-MAX_MAGNITUDE))
                    .exclusive_maximum(Some(MAX_MAGNITUDE)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(text_pattern(&[], false))),
            )
            .item(ArrayBuilder::new().items(Ref::from_schema_name("Storable")))
            .item(storable_object())
            .description(Some(
                "Any JSON without the NUL character in a string or key, numbers below 1e308 in \
                 magnitude, nested at most 32 deep",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Storable {}

/// A JSON object carepath can store: keys without NUL, [`Storable`] values.
fn storable_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(text_pattern(&[], false))),
        ))
        .additional_properties(Some(Ref::from_schema_name("Storable")))
}

/// A journey's input: a [`Storable`] object.
pub struct StorableObject;

impl utoipa::PartialSchema for StorableObject {
    fn schema() -> RefOr<Schema> {
        storable_object()
            .description(Some(
                "An object of any JSON without the NUL character in a string or key, numbers \
                 below 1e308 in magnitude, nested at most 32 deep",
            ))
            .into()
    }
}

impl utoipa::ToSchema for StorableObject {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "Storable".into(),
            <Storable as utoipa::PartialSchema>::schema(),
        ));
    }
}
