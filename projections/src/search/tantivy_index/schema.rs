//! The Tantivy schema: what is indexed for matching (tokenised text with positions, for
//! phrases), what for filtering (lowercased raw values), what for counting and sorting (fast
//! columns) and the stored document itself. Also the one tokenizer text and queries share.

use tantivy::{
    Index, TantivyDocument, Term,
    schema::{
        FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
    },
    tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer},
};

use crate::search::{ProductDocument, SearchError, SearchPosition, document::normalize_value};

/// Name of the tokenizer for searchable text.
pub(super) const WORDS_TOKENIZER: &str = "shop_words";
/// Longest indexed word in bytes (Meilisearch's limit is about the same).
const MAX_WORD_BYTES: usize = 250;
/// Separates an attribute key from its value in the `attr_*` fields (`colour\u{1f}blue`): it
/// cannot occur in a key, and sorts before every printable character, so one key's values are
/// one contiguous range of the column's dictionary.
pub(super) const ATTR_SEPARATOR: char = '\u{1f}';

/// Field handles. Searchable fields are in Meilisearch's attribute order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub id: Field,
    pub live: Field,
    pub pos_commit: Field,
    pub pos_prepare: Field,
    pub stored: Field,
    /// title, brand, category, description: the order is the attribute ranking.
    pub text: [Field; 4],
    pub brand_key: Field,
    pub category_key: Field,
    pub attr_key: Field,
    pub brand_facet: Field,
    pub category_facet: Field,
    pub attr_facet: Field,
    pub in_stock: Field,
    pub price_min: Field,
    pub rating: Field,
    pub created_at: Field,
}

/// Fast column names (the collector reads them by name).
pub(super) mod columns {
    pub const ID: &str = "id";
    pub const LIVE: &str = "live";
    pub const POS_COMMIT: &str = "pos_commit";
    pub const POS_PREPARE: &str = "pos_prepare";
    pub const BRAND: &str = "brand_facet";
    pub const CATEGORY: &str = "category_facet";
    pub const ATTR: &str = "attr_facet";
    pub const PRICE_MIN: &str = "price_min";
    pub const RATING: &str = "rating";
    pub const CREATED_AT: &str = "created_at";
}

/// Builds the schema and returns it with the field handles.
pub(super) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WORDS_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            // Scores are constant per match kind (see text_query.rs): no BM25, no norms.
            .set_fieldnorms(false),
    );
    let key = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    let facet = TextOptions::default().set_fast("raw");
    let fields = Fields {
        id: b.add_text_field(columns::ID, key.clone().set_stored().set_fast("raw")),
        live: b.add_bool_field(columns::LIVE, INDEXED | FAST),
        pos_commit: b.add_u64_field(columns::POS_COMMIT, FAST),
        pos_prepare: b.add_u64_field(columns::POS_PREPARE, FAST),
        stored: b.add_text_field("doc", STORED),
        text: [
            b.add_text_field("title", text.clone()),
            b.add_text_field("brand", text.clone()),
            b.add_text_field("category", text.clone()),
            b.add_text_field("description", text),
        ],
        brand_key: b.add_text_field("brand_key", key.clone()),
        category_key: b.add_text_field("category_key", key.clone()),
        attr_key: b.add_text_field("attr_key", key),
        brand_facet: b.add_text_field(columns::BRAND, facet.clone()),
        category_facet: b.add_text_field(columns::CATEGORY, facet.clone()),
        attr_facet: b.add_text_field(columns::ATTR, facet),
        in_stock: b.add_bool_field("in_stock", INDEXED | FAST),
        price_min: b.add_i64_field(columns::PRICE_MIN, FAST),
        rating: b.add_u64_field(columns::RATING, FAST),
        created_at: b.add_i64_field(columns::CREATED_AT, FAST),
    };
    (b.build(), fields)
}

/// The analyzer for searchable text and query words, close to Meilisearch's for Latin script:
/// split on anything not alphanumeric, lowercase, fold diacritics.
pub(super) fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers the analyzer on an index (tokenizers are not persisted with it).
pub(super) fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(WORDS_TOKENIZER, words_analyzer());
}

/// The Tantivy document for a product.
pub(super) fn product_doc(
    f: &Fields,
    doc: &ProductDocument,
) -> Result<TantivyDocument, SearchError> {
    let stored = serde_json::to_string(doc).map_err(backend)?;

    let mut t = header(f, &doc.product_id, doc.position, true);
    t.add_text(f.stored, stored);
    let [title, brand, category, description] = f.text;
    t.add_text(title, &doc.title);
    t.add_text(brand, &doc.brand);
    for level in &doc.category {
        t.add_text(category, level);
    }
    t.add_text(description, &doc.description);
    // Empty values are neither counted nor matched, as Meilisearch skips them in facets.
    if let Some(brand) = facet_value(&doc.brand) {
        t.add_text(f.brand_key, normalize_value(brand));
        t.add_text(f.brand_facet, brand);
    }
    for level in doc.category.iter().filter_map(|c| facet_value(c)) {
        t.add_text(f.category_key, normalize_value(level));
        t.add_text(f.category_facet, level);
    }
    for (key, values) in &doc.attributes {
        for value in values.iter().filter_map(|v| facet_value(v)) {
            t.add_text(f.attr_key, attr_term(key, value));
            t.add_text(f.attr_facet, format!("{key}{ATTR_SEPARATOR}{value}"));
        }
    }
    t.add_bool(f.in_stock, doc.in_stock);
    t.add_i64(f.price_min, doc.price_min);
    if let Some(rating) = doc.rating {
        t.add_u64(f.rating, u64::from(rating));
    }
    t.add_i64(f.created_at, doc.created_at);
    Ok(t)
}

/// A deletion tombstone: the id and position only, never matched by a search.
pub(super) fn tombstone_doc(f: &Fields, id: &str, position: SearchPosition) -> TantivyDocument {
    header(f, id, position, false)
}

fn header(f: &Fields, id: &str, position: SearchPosition, live: bool) -> TantivyDocument {
    let mut t = TantivyDocument::default();
    t.add_text(f.id, id);
    t.add_bool(f.live, live);
    t.add_u64(f.pos_commit, position.commit());
    t.add_u64(f.pos_prepare, position.prepare());
    t
}

fn facet_value(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// The filter term for one attribute value. Keys stay case-sensitive: in Meilisearch they are
/// field names (`attributes.colour`), and field names are.
pub(super) fn attr_term(key: &str, value: &str) -> String {
    format!("{key}{ATTR_SEPARATOR}{}", normalize_value(value))
}

/// The term that selects one product (live or tombstone).
pub(super) fn id_term(f: &Fields, id: &str) -> Term {
    Term::from_field_text(f.id, id)
}

/// Reads back the stored product of a search hit.
pub(super) fn stored_product(
    f: &Fields,
    doc: &TantivyDocument,
) -> Result<Option<ProductDocument>, SearchError> {
    use tantivy::schema::Value as _;
    let Some(json) = doc.get_first(f.stored).and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| SearchError::Backend(format!("stored document unreadable: {e}")))
}

pub(super) fn backend(err: impl std::fmt::Display) -> SearchError {
    SearchError::Backend(err.to_string())
}
