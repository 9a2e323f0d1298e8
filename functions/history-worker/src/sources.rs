//! What the worker reads from Salla, as a trait so the engine runs against fakes. Bodies are
//! kept as the JSON text the mapping crate parses; they hold personal data, so nothing here
//! has a `Debug` that prints them.

use adapters::Secret;
use adapters::salla::merchant::{Answer, DateWindow, MerchantApi, Page};
use async_trait::async_trait;
use mapping::ProductDetails;

/// One page of a list.
pub struct SallaPage<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    /// Entries of the whole list, as Salla counts them.
    pub total: u64,
}

/// An entry of the order list (the short form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrder {
    pub id: u64,
    /// The order's store-local time, when the list gave one.
    pub date: Option<time::PrimitiveDateTime>,
    /// The order's current status slug, when the list gave one.
    pub status: Option<String>,
}

/// A customer or product record: its id and its JSON object.
pub struct SallaItem {
    pub id: u64,
    pub body: String,
}

#[async_trait]
pub trait SallaSource: Send + Sync {
    /// `GET /orders` inside `window`, id ascending.
    async fn orders(
        &self,
        token: &Secret,
        window: DateWindow,
        page: u32,
        per_page: u32,
    ) -> Answer<SallaPage<ListedOrder>>;
    /// `GET /orders/{id}`'s `data`; `None` when the order is gone.
    async fn order(&self, token: &Secret, id: u64) -> Answer<Option<String>>;
    async fn customers(&self, token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>>;
    async fn products(&self, token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>>;
    /// `GET {path}?{query}`'s 200 body as JSON text, `None` on 404, with its rate-limit
    /// headers: the listings the loyalty points read (the import and the expiry pass) hand to
    /// the mapping crate. Sources that serve no points have none.
    async fn raw_page(
        &self,
        _token: &Secret,
        _path: &str,
        _query: &[(&str, String)],
    ) -> Answer<Option<String>> {
        Answer {
            result: Ok(None),
            rate: Default::default(),
        }
    }
    /// `GET /products/{id}` as the live path's enrichment reads it; `None` when it is gone.
    async fn product(&self, token: &Secret, id: u64) -> Answer<Option<ProductDetails>>;
}

fn page_of<T, U>(answer: Answer<Page<T>>, f: impl Fn(T) -> U) -> Answer<SallaPage<U>> {
    Answer {
        result: answer.result.map(|p| SallaPage {
            has_next: p.has_next(),
            total: p.total,
            items: p.items.into_iter().map(f).collect(),
        }),
        rate: answer.rate,
    }
}

#[async_trait]
impl SallaSource for MerchantApi {
    async fn orders(
        &self,
        token: &Secret,
        window: DateWindow,
        page: u32,
        per_page: u32,
    ) -> Answer<SallaPage<ListedOrder>> {
        let answer = self.list_orders(token, window, page, per_page).await;
        page_of(answer, |o| ListedOrder {
            id: o.id,
            date: o.date,
            status: o.status_slug,
        })
    }

    async fn order(&self, token: &Secret, id: u64) -> Answer<Option<String>> {
        let answer = self.get_order(token, id).await;
        Answer {
            result: answer.result.map(|o| o.map(|raw| raw.into_string())),
            rate: answer.rate,
        }
    }

    async fn customers(&self, token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>> {
        let answer = self.list_customers(token, page).await;
        page_of(answer, |r| SallaItem {
            id: r.id,
            body: r.body.into_string(),
        })
    }

    async fn products(&self, token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>> {
        let answer = self.list_products(token, page).await;
        page_of(answer, |r| SallaItem {
            id: r.id,
            body: r.body.into_string(),
        })
    }

    async fn raw_page(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Answer<Option<String>> {
        self.get_raw(token, path, query).await
    }

    async fn product(&self, token: &Secret, id: u64) -> Answer<Option<ProductDetails>> {
        let answer = self.get_product(token, id).await;
        Answer {
            result: answer.result.map(|p| p.map(ProductDetails::from)),
            rate: answer.rate,
        }
    }
}
