//! Vendor clients (clinical network, pharmacy, EHR, CRM, notifications) with
//! their rate limits, circuit breakers, retries and OAuth: built in the vendor issue.
