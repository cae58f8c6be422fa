use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::testing::given;
use crate::{Currency, CustomerId, Money, ReviewId, Sku};

fn pid() -> ProductId {
    ProductId::new("tee-1").unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn customer(s: &str) -> CustomerId {
    CustomerId::new(s).unwrap()
}

fn review(s: &str) -> ReviewId {
    ReviewId::new(s).unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn variant(s: &str, price: Money) -> Variant {
    Variant {
        sku: sku(s),
        price,
        attributes: attrs(&[("colour", "red"), ("size", s)]),
        weight_grams: Some(180),
    }
}

fn details() -> ProductDetails {
    ProductDetails {
        title: "Organic T-Shirt".into(),
        description: "Soft and fair.".into(),
        brand: "Acme".into(),
        category: vec!["Clothing".into(), "T-Shirts".into()],
        attributes: attrs(&[("material", "cotton")]),
        images: vec!["https://img.example/tee.jpg".into()],
    }
}

fn variants() -> Vec<Variant> {
    vec![variant("TEE-S", eur(1999)), variant("TEE-M", eur(2199))]
}

fn create_with(details: ProductDetails, variants: Vec<Variant>) -> ProductCommand {
    ProductCommand::CreateProduct {
        product_id: pid(),
        details,
        variants,
    }
}

fn created() -> ProductEvent {
    ProductEvent::ProductCreated {
        product_id: pid(),
        details: details(),
        currency: Currency::EUR,
        variants: variants(),
    }
}

fn discontinued() -> ProductEvent {
    ProductEvent::ProductDiscontinued {
        product_id: pid(),
        reason: "end of line".into(),
    }
}

fn update() -> ProductCommand {
    ProductCommand::UpdateProductDetails {
        title: None,
        description: None,
        brand: None,
        category: None,
        attributes: None,
        images: None,
    }
}

fn create_rejects(details: ProductDetails, variants: Vec<Variant>, expected: ProductRejection) {
    given::<Product>([])
        .when(create_with(details, variants))
        .then_reject(expected);
}

fn with_details(f: impl FnOnce(&mut ProductDetails)) -> ProductDetails {
    let mut d = details();
    f(&mut d);
    d
}

fn submitted(id: &str, who: &str, rating: u8) -> ProductEvent {
    ProductEvent::ReviewSubmitted {
        product_id: pid(),
        review_id: review(id),
        customer_id: customer(who),
        rating,
        text: "Great shirt".into(),
    }
}

fn submit(id: &str, who: &str, rating: u8, text: &str) -> ProductCommand {
    ProductCommand::SubmitReview {
        review_id: review(id),
        customer_id: customer(who),
        rating,
        text: text.into(),
    }
}

fn approved(id: &str, who: &str, rating: u8, count: u32, sum: u64) -> ProductEvent {
    ProductEvent::ReviewApproved {
        product_id: pid(),
        review_id: review(id),
        customer_id: customer(who),
        rating,
        approved_reviews: count,
        rating_sum: sum,
    }
}

fn approve(id: &str) -> ProductCommand {
    ProductCommand::ApproveReview {
        review_id: review(id),
    }
}

fn reject(id: &str, reason: &str) -> ProductCommand {
    ProductCommand::RejectReview {
        review_id: review(id),
        reason: reason.into(),
    }
}

// ---- create ----

#[test]
fn creates_a_product_in_one_currency() {
    let state = given::<Product>([])
        .when(create_with(details(), variants()))
        .then([created()]);
    assert_eq!(state.id(), Some(&pid()));
    assert_eq!(state.currency(), Some(Currency::EUR));
    assert_eq!(state.variant(&sku("TEE-M")).unwrap().price, eur(2199));
    assert_eq!(state.variant_count(), 2);
    assert_eq!(state.average_rating_hundredths(), None);
}

#[test]
fn repeating_the_same_create_is_a_no_op_but_other_content_is_refused() {
    given::<Product>([created()])
        .when(create_with(details(), variants()))
        .then_nothing();
    given::<Product>([created()])
        .when(create_with(details(), vec![variant("TEE-S", eur(1999))]))
        .then_reject(ProductRejection::AlreadyExists { product_id: pid() });
    let other = with_details(|d| d.title = "Other".into());
    given::<Product>([created()])
        .when(create_with(other, variants()))
        .then_reject(ProductRejection::AlreadyExists { product_id: pid() });
}

#[test]
fn titles_must_be_1_to_200_characters() {
    for blank in ["", "   "] {
        create_rejects(
            with_details(|d| d.title = blank.into()),
            variants(),
            ProductRejection::EmptyTitle { max: 200 },
        );
    }
    create_rejects(
        with_details(|d| d.title = "x".repeat(201)),
        variants(),
        ProductRejection::TitleTooLong {
            chars: 201,
            max: 200,
        },
    );
    // Characters, not bytes: 200 two-byte characters are fine.
    let long = with_details(|d| d.title = "é".repeat(200));
    given::<Product>([])
        .when(create_with(long.clone(), variants()))
        .then([ProductEvent::ProductCreated {
            product_id: pid(),
            details: long,
            currency: Currency::EUR,
            variants: variants(),
        }]);
}

#[test]
fn description_and_brand_have_length_limits() {
    create_rejects(
        with_details(|d| d.description = "x".repeat(10_001)),
        variants(),
        ProductRejection::DescriptionTooLong {
            chars: 10_001,
            max: 10_000,
        },
    );
    create_rejects(
        with_details(|d| d.brand = "b".repeat(101)),
        variants(),
        ProductRejection::BrandTooLong {
            chars: 101,
            max: 100,
        },
    );
    // Empty description and brand are allowed (unbranded product).
    let plain = with_details(|d| {
        d.description.clear();
        d.brand.clear();
        d.category.clear();
        d.images.clear();
        d.attributes.clear();
    });
    assert!(
        given::<Product>([])
            .when(create_with(plain, variants()))
            .outcome()
            .is_ok()
    );
}

#[test]
fn category_paths_are_bounded_and_have_no_blank_levels() {
    create_rejects(
        with_details(|d| d.category = vec!["c".into(); 11]),
        variants(),
        ProductRejection::CategoryTooDeep { depth: 11, max: 10 },
    );
    create_rejects(
        with_details(|d| d.category = vec!["Clothing".into(), " ".into()]),
        variants(),
        ProductRejection::InvalidCategoryLevel {
            level: " ".into(),
            max: 100,
        },
    );
    create_rejects(
        with_details(|d| d.category = vec!["c".repeat(101)]),
        variants(),
        ProductRejection::InvalidCategoryLevel {
            level: "c".repeat(80),
            max: 100,
        },
    );
}

#[test]
fn attributes_are_checked_on_products_and_variants() {
    let many: BTreeMap<String, String> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    create_rejects(
        with_details(|d| d.attributes = many),
        variants(),
        ProductRejection::TooManyAttributes { count: 51, max: 50 },
    );
    create_rejects(
        with_details(|d| d.attributes = attrs(&[("", "v")])),
        variants(),
        ProductRejection::InvalidAttributeName {
            name: String::new(),
            max: 100,
        },
    );
    create_rejects(
        with_details(|d| d.attributes = attrs(&[("fit", " ")])),
        variants(),
        ProductRejection::InvalidAttributeValue {
            name: "fit".into(),
            max: 500,
        },
    );
    let long_value = "v".repeat(501);
    create_rejects(
        with_details(|d| d.attributes = attrs(&[("fit", &long_value)])),
        variants(),
        ProductRejection::InvalidAttributeValue {
            name: "fit".into(),
            max: 500,
        },
    );
    let mut bad_variant = variant("TEE-S", eur(1999));
    bad_variant.attributes = attrs(&[("size", "")]);
    create_rejects(
        details(),
        vec![bad_variant],
        ProductRejection::InvalidAttributeValue {
            name: "size".into(),
            max: 500,
        },
    );
}

#[test]
fn images_are_http_urls_at_most_20_and_distinct() {
    let images: Vec<String> = (0..21)
        .map(|i| format!("https://img.example/{i}.jpg"))
        .collect();
    create_rejects(
        with_details(|d| d.images = images),
        variants(),
        ProductRejection::TooManyImages { count: 21, max: 20 },
    );
    for bad in [
        "ftp://img.example/a.jpg",
        "https://",
        "https://img.example/a b.jpg",
        "tee.jpg",
    ] {
        create_rejects(
            with_details(|d| d.images = vec![bad.into()]),
            variants(),
            ProductRejection::InvalidImageUrl {
                url: bad.into(),
                max: 2_048,
            },
        );
    }
    let twice = "http://img.example/a.jpg".to_string();
    create_rejects(
        with_details(|d| d.images = vec![twice.clone(), twice.clone()]),
        variants(),
        ProductRejection::DuplicateImage { url: twice },
    );
}

#[test]
fn a_product_needs_distinct_variants_in_one_currency() {
    create_rejects(details(), vec![], ProductRejection::NoVariants);
    create_rejects(
        details(),
        vec![variant("TEE-S", eur(1999)), variant("TEE-S", eur(2999))],
        ProductRejection::DuplicateSku { sku: sku("TEE-S") },
    );
    create_rejects(
        details(),
        vec![
            variant("TEE-S", eur(1999)),
            variant("TEE-M", Money::new(1999, Currency::USD)),
        ],
        ProductRejection::CurrencyMismatch {
            sku: sku("TEE-M"),
            expected: Currency::EUR,
            found: Currency::USD,
        },
    );
    let many: Vec<Variant> = (0..251)
        .map(|i| variant(&format!("V{i}"), eur(100)))
        .collect();
    create_rejects(
        details(),
        many,
        ProductRejection::TooManyVariants {
            count: 251,
            max: 250,
        },
    );
}

#[test]
fn prices_are_positive_and_capped() {
    for amount in [0, -1] {
        create_rejects(
            details(),
            vec![variant("TEE-S", eur(amount))],
            ProductRejection::NonPositivePrice {
                sku: sku("TEE-S"),
                price: eur(amount),
            },
        );
    }
    create_rejects(
        details(),
        vec![variant("TEE-S", eur(MAX_PRICE_MINOR + 1))],
        ProductRejection::PriceTooHigh {
            sku: sku("TEE-S"),
            price: eur(MAX_PRICE_MINOR + 1),
            max: eur(MAX_PRICE_MINOR),
        },
    );
    assert!(
        given::<Product>([])
            .when(create_with(
                details(),
                vec![variant("TEE-S", eur(MAX_PRICE_MINOR))]
            ))
            .outcome()
            .is_ok()
    );
}

#[test]
fn weights_are_1_gram_to_1_tonne_or_absent() {
    for grams in [0, MAX_WEIGHT_GRAMS + 1] {
        let mut v = variant("TEE-S", eur(1999));
        v.weight_grams = Some(grams);
        create_rejects(
            details(),
            vec![v],
            ProductRejection::InvalidWeight {
                sku: sku("TEE-S"),
                grams,
                max: MAX_WEIGHT_GRAMS,
            },
        );
    }
    let mut digital = variant("EBOOK", eur(999));
    digital.weight_grams = None;
    assert!(
        given::<Product>([])
            .when(create_with(details(), vec![digital]))
            .outcome()
            .is_ok()
    );
}

// ---- update details ----

#[test]
fn update_changes_only_the_given_fields_and_records_the_full_details() {
    let mut cmd = update();
    if let ProductCommand::UpdateProductDetails { title, images, .. } = &mut cmd {
        *title = Some("Organic Tee".into());
        *images = Some(vec![]);
    }
    let expected = with_details(|d| {
        d.title = "Organic Tee".into();
        d.images.clear();
    });
    let state =
        given::<Product>([created()])
            .when(cmd)
            .then([ProductEvent::ProductDetailsUpdated {
                product_id: pid(),
                details: expected.clone(),
            }]);
    assert_eq!(state.details(), &expected);
}

#[test]
fn an_update_that_changes_nothing_is_a_no_op() {
    given::<Product>([created()]).when(update()).then_nothing();
    let mut same = update();
    if let ProductCommand::UpdateProductDetails { brand, .. } = &mut same {
        *brand = Some("Acme".into());
    }
    given::<Product>([created()]).when(same).then_nothing();
}

#[test]
fn updates_are_validated_and_need_a_live_product() {
    let mut cmd = update();
    if let ProductCommand::UpdateProductDetails { title, .. } = &mut cmd {
        *title = Some(" ".into());
    }
    given::<Product>([created()])
        .when(cmd)
        .then_reject(ProductRejection::EmptyTitle { max: 200 });
    let mut cmd = update();
    if let ProductCommand::UpdateProductDetails { category, .. } = &mut cmd {
        *category = Some(vec!["Sale".into()]);
    }
    given::<Product>([])
        .when(cmd.clone())
        .then_reject(ProductRejection::NotFound);
    given::<Product>([created(), discontinued()])
        .when(cmd)
        .then_reject(ProductRejection::Discontinued { product_id: pid() });
}

// ---- variants ----

#[test]
fn adds_a_variant_once() {
    let v = variant("TEE-L", eur(2399));
    let state = given::<Product>([created()])
        .when(ProductCommand::AddVariant { variant: v.clone() })
        .then([ProductEvent::VariantAdded {
            product_id: pid(),
            variant: v.clone(),
        }]);
    assert_eq!(state.variant(&sku("TEE-L")), Some(&v));
    let added = ProductEvent::VariantAdded {
        product_id: pid(),
        variant: v.clone(),
    };
    given::<Product>([created(), added])
        .when(ProductCommand::AddVariant { variant: v })
        .then_nothing();
}

#[test]
fn adding_a_variant_checks_sku_currency_and_product() {
    given::<Product>([created()])
        .when(ProductCommand::AddVariant {
            variant: variant("TEE-S", eur(1)),
        })
        .then_reject(ProductRejection::DuplicateSku { sku: sku("TEE-S") });
    given::<Product>([created()])
        .when(ProductCommand::AddVariant {
            variant: variant("TEE-L", Money::new(2399, Currency::GBP)),
        })
        .then_reject(ProductRejection::CurrencyMismatch {
            sku: sku("TEE-L"),
            expected: Currency::EUR,
            found: Currency::GBP,
        });
    given::<Product>([created()])
        .when(ProductCommand::AddVariant {
            variant: variant("TEE-L", eur(0)),
        })
        .then_reject(ProductRejection::NonPositivePrice {
            sku: sku("TEE-L"),
            price: eur(0),
        });
    given::<Product>([])
        .when(ProductCommand::AddVariant {
            variant: variant("TEE-L", eur(1)),
        })
        .then_reject(ProductRejection::NotFound);
    given::<Product>([created(), discontinued()])
        .when(ProductCommand::AddVariant {
            variant: variant("TEE-L", eur(1)),
        })
        .then_reject(ProductRejection::Discontinued { product_id: pid() });
}

#[test]
fn a_product_holds_at_most_250_variants() {
    let full = ProductEvent::ProductCreated {
        product_id: pid(),
        details: details(),
        currency: Currency::EUR,
        variants: (0..250)
            .map(|i| variant(&format!("V{i}"), eur(100)))
            .collect(),
    };
    given::<Product>([full])
        .when(ProductCommand::AddVariant {
            variant: variant("ONE-MORE", eur(100)),
        })
        .then_reject(ProductRejection::TooManyVariants {
            count: 251,
            max: 250,
        });
}

#[test]
fn changes_a_variant_price() {
    let state = given::<Product>([created()])
        .when(ProductCommand::ChangeVariantPrice {
            sku: sku("TEE-S"),
            price: eur(1499),
        })
        .then([ProductEvent::VariantPriceChanged {
            product_id: pid(),
            sku: sku("TEE-S"),
            previous_price: eur(1999),
            price: eur(1499),
        }]);
    assert_eq!(state.variant(&sku("TEE-S")).unwrap().price, eur(1499));
    assert_eq!(state.variant(&sku("TEE-M")).unwrap().price, eur(2199));
}

#[test]
fn the_same_price_is_a_no_op() {
    given::<Product>([created()])
        .when(ProductCommand::ChangeVariantPrice {
            sku: sku("TEE-S"),
            price: eur(1999),
        })
        .then_nothing();
}

#[test]
fn price_changes_are_checked() {
    let change = |s: &str, price: Money| ProductCommand::ChangeVariantPrice { sku: sku(s), price };
    given::<Product>([created()])
        .when(change("TEE-XL", eur(1)))
        .then_reject(ProductRejection::UnknownSku { sku: sku("TEE-XL") });
    given::<Product>([created()])
        .when(change("TEE-S", Money::new(1999, Currency::USD)))
        .then_reject(ProductRejection::CurrencyMismatch {
            sku: sku("TEE-S"),
            expected: Currency::EUR,
            found: Currency::USD,
        });
    given::<Product>([created()])
        .when(change("TEE-S", eur(-5)))
        .then_reject(ProductRejection::NonPositivePrice {
            sku: sku("TEE-S"),
            price: eur(-5),
        });
    given::<Product>([created()])
        .when(change("TEE-S", eur(i64::MAX)))
        .then_reject(ProductRejection::PriceTooHigh {
            sku: sku("TEE-S"),
            price: eur(i64::MAX),
            max: eur(MAX_PRICE_MINOR),
        });
    given::<Product>([])
        .when(change("TEE-S", eur(1)))
        .then_reject(ProductRejection::NotFound);
    given::<Product>([created(), discontinued()])
        .when(change("TEE-S", eur(1)))
        .then_reject(ProductRejection::Discontinued { product_id: pid() });
}

// ---- discontinue ----

#[test]
fn discontinues_once_with_a_reason() {
    let discontinue = |reason: &str| ProductCommand::DiscontinueProduct {
        reason: reason.into(),
    };
    let state = given::<Product>([created()])
        .when(discontinue("end of line"))
        .then([discontinued()]);
    assert!(state.is_discontinued());
    given::<Product>([created(), discontinued()])
        .when(discontinue("again"))
        .then_nothing();
    given::<Product>([created()])
        .when(discontinue(" "))
        .then_reject(ProductRejection::EmptyReason { max: 1_000 });
    given::<Product>([created()])
        .when(discontinue(&"r".repeat(1_001)))
        .then_reject(ProductRejection::ReasonTooLong {
            chars: 1_001,
            max: 1_000,
        });
    given::<Product>([])
        .when(discontinue("gone"))
        .then_reject(ProductRejection::NotFound);
}

// ---- reviews ----

#[test]
fn submits_a_pending_review() {
    let state = given::<Product>([created()])
        .when(submit("r1", "c1", 4, "Great shirt"))
        .then([submitted("r1", "c1", 4)]);
    let record = state.review(&review("r1")).unwrap();
    assert_eq!(record.status, ReviewStatus::Pending);
    assert_eq!(state.review_by(&customer("c1")), Some(&review("r1")));
    assert_eq!(state.approved_reviews(), 0, "pending reviews do not count");
}

#[test]
fn a_retried_submission_is_a_no_op_and_a_reused_id_is_refused() {
    given::<Product>([created(), submitted("r1", "c1", 4)])
        .when(submit("r1", "c1", 4, "Great shirt"))
        .then_nothing();
    for other in [
        submit("r1", "c1", 4, "Changed my mind"),
        submit("r1", "c1", 5, "Great shirt"),
        submit("r1", "c2", 4, "Great shirt"),
    ] {
        given::<Product>([created(), submitted("r1", "c1", 4)])
            .when(other)
            .then_reject(ProductRejection::ReviewIdConflict {
                review_id: review("r1"),
            });
    }
}

#[test]
fn one_review_per_customer() {
    given::<Product>([created(), submitted("r1", "c1", 4)])
        .when(submit("r2", "c1", 1, "Shrank"))
        .then_reject(ProductRejection::AlreadyReviewed {
            customer_id: customer("c1"),
            review_id: review("r1"),
        });
    given::<Product>([created(), submitted("r1", "c1", 4)])
        .when(submit("r2", "c2", 1, "Shrank"))
        .then([ProductEvent::ReviewSubmitted {
            product_id: pid(),
            review_id: review("r2"),
            customer_id: customer("c2"),
            rating: 1,
            text: "Shrank".into(),
        }]);
}

#[test]
fn reviews_are_validated() {
    for rating in [0, 6, 255] {
        given::<Product>([created()])
            .when(submit("r1", "c1", rating, "ok"))
            .then_reject(ProductRejection::InvalidRating { rating });
    }
    given::<Product>([created()])
        .when(submit("r1", "c1", 3, &"w".repeat(5_001)))
        .then_reject(ProductRejection::ReviewTextTooLong {
            chars: 5_001,
            max: 5_000,
        });
    for text in [String::new(), "w".repeat(5_000)] {
        assert!(
            given::<Product>([created()])
                .when(submit("r1", "c1", 3, &text))
                .outcome()
                .is_ok()
        );
    }
    given::<Product>([])
        .when(submit("r1", "c1", 3, "ok"))
        .then_reject(ProductRejection::NotFound);
    given::<Product>([created(), discontinued()])
        .when(submit("r1", "c1", 3, "ok"))
        .then_reject(ProductRejection::Discontinued { product_id: pid() });
}

#[test]
fn approval_counts_the_rating_once() {
    let state = given::<Product>([created(), submitted("r1", "c1", 4)])
        .when(approve("r1"))
        .then([approved("r1", "c1", 4, 1, 4)]);
    assert_eq!(
        state.review(&review("r1")).unwrap().status,
        ReviewStatus::Approved
    );
    assert_eq!(state.average_rating_hundredths(), Some(400));
    given::<Product>([
        created(),
        submitted("r1", "c1", 4),
        approved("r1", "c1", 4, 1, 4),
    ])
    .when(approve("r1"))
    .then_nothing();
    given::<Product>([created()])
        .when(approve("r9"))
        .then_reject(ProductRejection::UnknownReview {
            review_id: review("r9"),
        });
    given::<Product>([])
        .when(approve("r1"))
        .then_reject(ProductRejection::NotFound);
}

#[test]
fn the_average_comes_from_approved_reviews_only() {
    let history = [
        created(),
        submitted("r1", "c1", 5),
        submitted("r2", "c2", 4),
        submitted("r3", "c3", 1),
        submitted("r4", "c4", 4),
        approved("r1", "c1", 5, 1, 5),
        approved("r2", "c2", 4, 2, 9),
    ];
    let state = given::<Product>(history.clone())
        .when(approve("r4"))
        .then([approved("r4", "c4", 4, 3, 13)]);
    // (5 + 4 + 4) / 3 = 4.333…; the pending 1-star review does not count.
    assert_eq!(state.approved_reviews(), 3);
    assert_eq!(state.rating_sum(), 13);
    assert_eq!(state.average_rating_hundredths(), Some(433));
    assert_eq!(state.average_rating(), Some(4.33));
}

#[test]
fn rejecting_a_pending_review_leaves_the_totals() {
    let state = given::<Product>([created(), submitted("r1", "c1", 1)])
        .when(reject("r1", "off-topic"))
        .then([ProductEvent::ReviewRejected {
            product_id: pid(),
            review_id: review("r1"),
            customer_id: customer("c1"),
            rating: 1,
            reason: "off-topic".into(),
            was_approved: false,
            approved_reviews: 0,
            rating_sum: 0,
        }]);
    assert_eq!(
        state.review(&review("r1")).unwrap().status,
        ReviewStatus::Rejected {
            reason: "off-topic".into()
        }
    );
}

#[test]
fn taking_down_an_approved_review_removes_its_rating() {
    let state = given::<Product>([
        created(),
        submitted("r1", "c1", 5),
        submitted("r2", "c2", 2),
        approved("r1", "c1", 5, 1, 5),
        approved("r2", "c2", 2, 2, 7),
    ])
    .when(reject("r2", "abusive"))
    .then([ProductEvent::ReviewRejected {
        product_id: pid(),
        review_id: review("r2"),
        customer_id: customer("c2"),
        rating: 2,
        reason: "abusive".into(),
        was_approved: true,
        approved_reviews: 1,
        rating_sum: 5,
    }]);
    assert_eq!(state.average_rating_hundredths(), Some(500));
}

#[test]
fn a_rejected_review_can_be_approved_later() {
    let rejected = ProductEvent::ReviewRejected {
        product_id: pid(),
        review_id: review("r1"),
        customer_id: customer("c1"),
        rating: 3,
        reason: "spam?".into(),
        was_approved: false,
        approved_reviews: 0,
        rating_sum: 0,
    };
    given::<Product>([created(), submitted("r1", "c1", 3), rejected])
        .when(approve("r1"))
        .then([approved("r1", "c1", 3, 1, 3)]);
}

#[test]
fn rejection_repeats_and_reasons() {
    let rejected = ProductEvent::ReviewRejected {
        product_id: pid(),
        review_id: review("r1"),
        customer_id: customer("c1"),
        rating: 3,
        reason: "spam".into(),
        was_approved: false,
        approved_reviews: 0,
        rating_sum: 0,
    };
    let history = [created(), submitted("r1", "c1", 3), rejected];
    given::<Product>(history.clone())
        .when(reject("r1", "spam"))
        .then_nothing();
    given::<Product>(history)
        .when(reject("r1", "rude"))
        .then_reject(ProductRejection::ReviewAlreadyRejected {
            review_id: review("r1"),
            reason: "spam".into(),
        });
    given::<Product>([created(), submitted("r1", "c1", 3)])
        .when(reject("r1", ""))
        .then_reject(ProductRejection::EmptyReason { max: 1_000 });
    given::<Product>([created()])
        .when(reject("r9", "x"))
        .then_reject(ProductRejection::UnknownReview {
            review_id: review("r9"),
        });
}

#[test]
fn a_discontinued_product_still_moderates_its_reviews() {
    given::<Product>([created(), submitted("r1", "c1", 4), discontinued()])
        .when(approve("r1"))
        .then([approved("r1", "c1", 4, 1, 4)]);
    assert!(
        given::<Product>([created(), submitted("r1", "c1", 4), discontinued()])
            .when(reject("r1", "spam"))
            .outcome()
            .is_ok()
    );
}

#[test]
fn rejections_read_as_sentences() {
    let text = ProductRejection::CurrencyMismatch {
        sku: sku("TEE-S"),
        expected: Currency::EUR,
        found: Currency::USD,
    }
    .to_string();
    assert_eq!(
        text,
        "TEE-S is priced in USD but this product is priced in EUR; use EUR"
    );
}

#[test]
fn state_survives_a_snapshot_round_trip() {
    let state = Product::fold(&[
        created(),
        submitted("r1", "c1", 5),
        approved("r1", "c1", 5, 1, 5),
    ]);
    let json = serde_json::to_string(&state).unwrap();
    let back: ProductState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Moderation {
    Approve(usize),
    Reject(usize, bool),
}

fn moderation() -> impl Strategy<Value = Moderation> {
    prop_oneof![
        (0usize..6).prop_map(Moderation::Approve),
        (0usize..6, any::<bool>()).prop_map(|(i, other)| Moderation::Reject(i, other)),
    ]
}

proptest! {
    /// Whatever moderators do, the running totals equal the totals of the reviews that are
    /// approved right now, and the average stays within 1..=5 stars.
    #[test]
    fn rating_totals_follow_the_approved_reviews(
        ratings in proptest::collection::vec(1u8..=5, 6),
        steps in proptest::collection::vec(moderation(), 0..60),
    ) {
        let mut history = vec![created()];
        for (i, rating) in ratings.iter().enumerate() {
            history.push(submitted(&format!("r{i}"), &format!("c{i}"), *rating));
        }
        let mut state = Product::fold(&history);
        for step in steps {
            let command = match step {
                Moderation::Approve(i) => approve(&format!("r{i}")),
                Moderation::Reject(i, other) => {
                    reject(&format!("r{i}"), if other { "rude" } else { "spam" })
                }
            };
            let outcome = given::<Product>(history.clone()).when(command).outcome();
            if let Ok(events) = outcome {
                for event in events {
                    Product::evolve(&mut state, &event);
                    history.push(event);
                }
            }
            let (count, sum) = (0..ratings.len())
                .filter(|i| {
                    state.review(&review(&format!("r{i}"))).unwrap().status
                        == ReviewStatus::Approved
                })
                .fold((0u32, 0u64), |(c, s), i| (c + 1, s + u64::from(ratings[i])));
            prop_assert_eq!(state.approved_reviews(), count);
            prop_assert_eq!(state.rating_sum(), sum);
            if let Some(avg) = state.average_rating_hundredths() {
                prop_assert!((100..=500).contains(&avg));
            } else {
                prop_assert_eq!(count, 0);
            }
        }
    }
}
