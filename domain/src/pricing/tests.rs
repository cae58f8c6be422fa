use proptest::prelude::*;

use super::*;
use crate::{Address, Currency, Discount, Money};

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

fn de() -> Destination {
    Destination::new("DE", None)
}

fn rates() -> TaxRates {
    TaxRates::new(MissingRate::Reject)
        .with_country("DE", 1900)
        .with_country("US", 0)
        .with_region("US", "CA", 725)
}

// --- line totals and subtotal ---

#[test]
fn line_total_is_unit_price_times_quantity() {
    assert_eq!(line_total(eur(1999), 3), Ok(eur(5997)));
    assert_eq!(line_total(eur(1999), 0), Ok(eur(0)));
}

#[test]
fn line_total_rejects_overflow_and_negative_prices() {
    assert_eq!(line_total(eur(i64::MAX), 2), Err(PricingError::Overflow));
    assert_eq!(
        line_total(eur(-1), 1),
        Err(PricingError::NegativeAmount {
            what: "unit price",
            amount: eur(-1)
        })
    );
}

#[test]
fn subtotal_sums_lines_in_one_currency() {
    let lines = [PriceLine::new(eur(1000), 2), PriceLine::new(eur(250), 1)];
    assert_eq!(subtotal(Currency::EUR, &lines), Ok(eur(2250)));
    assert_eq!(subtotal(Currency::EUR, &[]), Ok(eur(0)));
}

#[test]
fn subtotal_rejects_mixed_currencies_and_overflow() {
    let lines = [PriceLine::new(eur(1000), 1), PriceLine::new(usd(250), 1)];
    assert_eq!(
        subtotal(Currency::EUR, &lines),
        Err(PricingError::CurrencyMismatch {
            what: "a unit price",
            expected: Currency::EUR,
            found: Currency::USD
        })
    );
    let huge = [
        PriceLine::new(eur(i64::MAX / 2 + 1), 1),
        PriceLine::new(eur(i64::MAX / 2 + 1), 1),
    ];
    assert_eq!(subtotal(Currency::EUR, &huge), Err(PricingError::Overflow));
}

#[test]
fn weight_is_unit_weight_times_quantity() {
    let lines = [
        PriceLine::new(eur(1), 3).weighing(400),
        PriceLine::new(eur(1), 1).weighing(250),
    ];
    assert_eq!(total_weight_grams(&lines), Ok(1450));
}

// --- discount ---

#[test]
fn discount_is_zero_without_a_promotion_and_capped_at_the_subtotal() {
    assert_eq!(discount_amount(None, eur(1000)), Ok(eur(0)));
    let pct = Discount::Percentage { basis_points: 1000 };
    assert_eq!(discount_amount(Some(&pct), eur(1005)), Ok(eur(101)));
    let fixed = Discount::FixedAmount { amount: eur(5000) };
    assert_eq!(discount_amount(Some(&fixed), eur(1000)), Ok(eur(1000)));
}

#[test]
fn a_fixed_discount_in_another_currency_is_rejected() {
    let fixed = Discount::FixedAmount { amount: usd(500) };
    assert_eq!(
        discount_amount(Some(&fixed), eur(1000)),
        Err(PricingError::CurrencyMismatch {
            what: "the discount",
            expected: Currency::EUR,
            found: Currency::USD
        })
    );
}

// --- tax ---

#[test]
fn tax_uses_the_region_row_then_the_country_row() {
    let r = rates();
    assert_eq!(r.rate_for(&Destination::new("us", Some("ca"))), Ok(725));
    assert_eq!(r.rate_for(&Destination::new("US", Some("NY"))), Ok(0));
    assert_eq!(r.rate_for(&de()), Ok(1900));
    let address = Address {
        name: "A".into(),
        line1: "B".into(),
        line2: None,
        city: "C".into(),
        region: Some("CA".into()),
        postal_code: "1".into(),
        country: "US".into(),
    };
    assert_eq!(r.rate_for(&Destination::from(&address)), Ok(725));
}

#[test]
fn a_missing_rate_is_zero_or_a_rejection_as_configured() {
    let fr = Destination::new("FR", Some("IDF"));
    assert_eq!(TaxRates::new(MissingRate::Zero).rate_for(&fr), Ok(0));
    assert_eq!(
        rates().rate_for(&fr),
        Err(PricingError::NoTaxRate {
            country: "FR".into(),
            region: Some("IDF".into())
        })
    );
    assert_eq!(
        rates().rate_for(&fr).unwrap_err().to_string(),
        "no tax rate for country FR region IDF: add one to the tax table"
    );
}

#[test]
fn rates_above_one_hundred_percent_are_rejected() {
    let r = TaxRates::new(MissingRate::Zero).with_country("DE", 10_001);
    assert_eq!(
        r.rate_for(&de()),
        Err(PricingError::InvalidTaxRate {
            country: "DE".into(),
            basis_points: 10_001
        })
    );
}

#[test]
fn tax_applies_to_the_discounted_subtotal_and_rounds_once_half_away_from_zero() {
    // (1050 - 0) × 19 % = 199.5 -> 200
    assert_eq!(
        tax(&rates(), &de(), eur(1050), eur(0), eur(490)),
        Ok(eur(200))
    );
    // (1050 - 50) × 19 % = 190; shipping not taxed by default.
    assert_eq!(
        tax(&rates(), &de(), eur(1050), eur(50), eur(490)),
        Ok(eur(190))
    );
}

#[test]
fn tax_includes_shipping_when_the_table_says_so() {
    let r = rates().taxing_shipping(true);
    // (1000 - 0 + 500) × 19 % = 285
    assert_eq!(tax(&r, &de(), eur(1000), eur(0), eur(500)), Ok(eur(285)));
}

#[test]
fn tax_rejects_mixed_currencies_and_a_discount_above_the_subtotal() {
    assert!(matches!(
        tax(&rates(), &de(), eur(1000), eur(0), usd(500)),
        Err(PricingError::CurrencyMismatch { .. })
    ));
    assert_eq!(
        tax(&rates(), &de(), eur(100), eur(101), eur(0)),
        Err(PricingError::DiscountExceedsSubtotal {
            discount: eur(101),
            subtotal: eur(100)
        })
    );
}

// --- shipping ---

#[test]
fn flat_shipping_costs_its_amount_until_the_free_threshold() {
    let m = ShippingMethod::flat(eur(490)).free_from(eur(5000));
    assert_eq!(shipping_cost(&m, eur(4999), 0), Ok(eur(490)));
    assert_eq!(shipping_cost(&m, eur(5000), 0), Ok(eur(0)));
}

#[test]
fn per_kg_shipping_charges_every_started_kilogram() {
    let m = ShippingMethod::per_started_kg(eur(300), eur(100));
    assert_eq!(shipping_cost(&m, eur(1), 0), Ok(eur(300)));
    assert_eq!(shipping_cost(&m, eur(1), 1), Ok(eur(400)));
    assert_eq!(shipping_cost(&m, eur(1), 1000), Ok(eur(400)));
    assert_eq!(shipping_cost(&m, eur(1), 1001), Ok(eur(500)));
}

#[test]
fn weight_bands_pick_the_lightest_band_that_fits() {
    let m = ShippingMethod::weight_bands(vec![
        WeightBand {
            up_to_grams: 5000,
            price: eur(900),
        },
        WeightBand {
            up_to_grams: 1000,
            price: eur(500),
        },
    ]);
    assert_eq!(shipping_cost(&m, eur(1), 1000), Ok(eur(500)));
    assert_eq!(shipping_cost(&m, eur(1), 1001), Ok(eur(900)));
    assert_eq!(
        shipping_cost(&m, eur(1), 5001),
        Err(PricingError::TooHeavy {
            weight_grams: 5001,
            max_grams: 5000
        })
    );
}

#[test]
fn shipping_rejects_other_currencies_and_negative_prices() {
    assert!(matches!(
        shipping_cost(&ShippingMethod::flat(usd(490)), eur(1), 0),
        Err(PricingError::CurrencyMismatch { .. })
    ));
    assert!(matches!(
        shipping_cost(&ShippingMethod::flat(eur(-1)), eur(1), 0),
        Err(PricingError::NegativeAmount { .. })
    ));
    assert!(matches!(
        shipping_cost(&ShippingMethod::flat(eur(1)).free_from(usd(1)), eur(1), 0),
        Err(PricingError::CurrencyMismatch { .. })
    ));
}

// --- totals and quote ---

#[test]
fn totals_add_up_and_check_their_parts() {
    let t = Totals::from_parts(eur(1000), eur(100), eur(171), eur(490)).unwrap();
    assert_eq!(t.total, eur(1561));
    assert_eq!(t.currency(), Currency::EUR);
    assert!(Totals::from_parts(eur(1000), eur(1001), eur(0), eur(0)).is_err());
    assert!(Totals::from_parts(eur(1000), eur(0), usd(0), eur(0)).is_err());
    assert!(Totals::from_parts(eur(1000), eur(0), eur(-1), eur(0)).is_err());
    assert_eq!(
        Totals::from_parts(eur(i64::MAX), eur(0), eur(1), eur(0)),
        Err(PricingError::Overflow)
    );
}

#[test]
fn quote_prices_a_basket() {
    let lines = [
        PriceLine::new(eur(2500), 2).weighing(600),
        PriceLine::new(eur(1000), 1).weighing(300),
    ];
    let promo = Discount::Percentage { basis_points: 1000 };
    let method = ShippingMethod::per_started_kg(eur(300), eur(100));
    let t = quote(
        Currency::EUR,
        &lines,
        Some(&promo),
        &de(),
        &method,
        &rates(),
    )
    .unwrap();
    // subtotal 6000, discount 600, 1.5 kg -> 2 started kg -> 500, tax 19 % of 5400 = 1026.
    assert_eq!(
        t,
        Totals {
            subtotal: eur(6000),
            discount: eur(600),
            tax: eur(1026),
            shipping: eur(500),
            total: eur(6926)
        }
    );
}

#[test]
fn quote_applies_the_free_threshold_after_the_discount() {
    let lines = [PriceLine::new(eur(5000), 1)];
    let promo = Discount::FixedAmount { amount: eur(1) };
    let method = ShippingMethod::flat(eur(490)).free_from(eur(5000));
    let free = quote(Currency::EUR, &lines, None, &de(), &method, &rates()).unwrap();
    assert_eq!(free.shipping, eur(0));
    let paid = quote(
        Currency::EUR,
        &lines,
        Some(&promo),
        &de(),
        &method,
        &rates(),
    )
    .unwrap();
    assert_eq!(paid.shipping, eur(490));
}

#[test]
fn quote_rejects_mixed_currencies_and_unknown_destinations() {
    let lines = [PriceLine::new(usd(100), 1)];
    let method = ShippingMethod::flat(eur(490));
    assert!(matches!(
        quote(Currency::EUR, &lines, None, &de(), &method, &rates()),
        Err(PricingError::CurrencyMismatch { .. })
    ));
    let lines = [PriceLine::new(eur(100), 1)];
    let fr = Destination::new("FR", None);
    assert!(matches!(
        quote(Currency::EUR, &lines, None, &fr, &method, &rates()),
        Err(PricingError::NoTaxRate { .. })
    ));
}

fn arb_discount() -> impl Strategy<Value = Option<Discount>> {
    prop_oneof![
        Just(None),
        (0u32..=12_000).prop_map(|basis_points| Some(Discount::Percentage { basis_points })),
        (-1_000i64..100_000_000).prop_map(|a| Some(Discount::FixedAmount { amount: eur(a) })),
    ]
}

fn arb_method() -> impl Strategy<Value = ShippingMethod> {
    let rate = prop_oneof![
        (0i64..10_000).prop_map(|a| ShippingMethod::flat(eur(a))),
        (0i64..10_000, 0i64..1_000)
            .prop_map(|(b, k)| ShippingMethod::per_started_kg(eur(b), eur(k))),
        (0i64..10_000).prop_map(|p| ShippingMethod::weight_bands(vec![WeightBand {
            up_to_grams: u64::MAX,
            price: eur(p)
        }])),
    ];
    (rate, proptest::option::of(0i64..1_000_000)).prop_map(|(m, free)| match free {
        Some(f) => m.free_from(eur(f)),
        None => m,
    })
}

proptest! {
    #[test]
    fn totals_add_up_and_discount_never_exceeds_subtotal(
        lines in proptest::collection::vec((0i64..10_000_000, 1u32..=999, 0u32..5_000), 0..20),
        discount in arb_discount(),
        method in arb_method(),
        rate in 0u32..=10_000,
        tax_shipping in any::<bool>(),
    ) {
        let lines: Vec<_> = lines
            .into_iter()
            .map(|(p, q, w)| PriceLine::new(eur(p), q).weighing(w))
            .collect();
        let rates = TaxRates::new(MissingRate::Reject)
            .with_country("DE", rate)
            .taxing_shipping(tax_shipping);
        let t = quote(Currency::EUR, &lines, discount.as_ref(), &de(), &method, &rates).unwrap();
        prop_assert!(t.discount.amount >= 0);
        prop_assert!(t.discount.amount <= t.subtotal.amount);
        prop_assert_eq!(
            t.total.amount,
            t.subtotal.amount - t.discount.amount + t.tax.amount + t.shipping.amount
        );
        let base = t.subtotal.amount - t.discount.amount
            + if tax_shipping { t.shipping.amount } else { 0 };
        let exact = base as f64 * f64::from(rate) / 10_000.0;
        prop_assert!((t.tax.amount as f64 - exact).abs() <= 0.5 + 1e-6);
    }
}
