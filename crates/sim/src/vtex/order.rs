//! One order's state and its JSON renderings: the full document of
//! `GET /api/oms/pvt/orders/{orderId}` (keys of the documented example, values
//! in integer cents) and the summary of `GET /api/oms/pvt/orders`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::fmt::{hex_id, hex_id_lower, ts};
use super::generate::{PaymentMethod, Sla};
use super::status::OrderStatus;

/// Account-level data the renderings need.
#[derive(Debug, Clone)]
pub struct AccountInfo<'a> {
    pub account: &'a str,
    pub seller_name: &'a str,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub cpf: String,
    pub phone: String,
    pub corporate: Option<super::generate::Corporate>,
}

#[derive(Debug, Clone)]
pub struct Address {
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub neighborhood: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub sku_id: String,
    pub product_id: String,
    pub ref_id: String,
    pub ean: String,
    pub name: String,
    pub brand: String,
    pub quantity: u32,
    /// Unit price in cents.
    pub price: i64,
    pub list_price: i64,
    pub weight_kg: f64,
    pub warehouse_id: String,
}

/// One tracking event (`courierStatus.data[]`).
#[derive(Debug, Clone)]
pub struct TrackEvent {
    pub city: String,
    pub state: String,
    pub description: String,
    pub date: String,
    pub at: DateTime<Utc>,
}

/// An invoice (`packageAttachment.packages[]`).
#[derive(Debug, Clone)]
pub struct Package {
    pub invoice_number: String,
    /// `Output` or `Input`.
    pub kind: String,
    pub issuance_date: String,
    pub invoice_value: i64,
    pub invoice_key: Option<String>,
    pub invoice_url: Option<String>,
    pub embedded_invoice: Option<String>,
    pub courier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub dispatched_date: Option<String>,
    pub cfop: Option<String>,
    /// `(itemIndex, quantity, unit price, description)`.
    pub items: Vec<(usize, u32, i64, String)>,
    pub delivered: bool,
    pub delivered_date: Option<String>,
    pub events: Vec<TrackEvent>,
    pub receipt: String,
    pub last_change: DateTime<Utc>,
}

impl Package {
    fn render(&self, order_items: &[Item]) -> Value {
        let courier_status = if self.events.is_empty() && !self.delivered {
            Value::Null
        } else {
            json!({
                "status": "ok",
                "finished": self.delivered,
                "deliveredDate": self.delivered_date,
                "data": self.events.iter().map(|e| json!({
                    "lastChange": ts(e.at),
                    "city": e.city,
                    "state": e.state,
                    "description": e.description,
                    "createDate": e.date,
                })).collect::<Vec<_>>(),
            })
        };
        // Documented: `restitutions` only applies to `Input` (return) invoices.
        let restitutions = if self.kind.eq_ignore_ascii_case("input") {
            json!({"Refund": {
                "value": self.invoice_value,
                "giftCardData": null,
                "items": self.items.iter().map(|(i, q, p, d)| json!({
                    "useFreight": false, "isCompensation": false, "compensationValue": 0,
                    "id": order_items.get(*i).map(|it| it.sku_id.as_str()).unwrap_or_default(),
                    "quantity": q, "price": p, "description": d,
                })).collect::<Vec<_>>(),
            }})
        } else {
            Value::Null
        };
        json!({
            "items": self.items.iter().map(|(i, q, p, d)| json!({
                "itemIndex": i, "quantity": q, "price": p, "description": d, "unitMultiplier": 1.0,
            })).collect::<Vec<_>>(),
            "courier": self.courier,
            "invoiceNumber": self.invoice_number,
            "invoiceValue": self.invoice_value,
            "invoiceUrl": self.invoice_url,
            "issuanceDate": self.issuance_date,
            "trackingNumber": self.tracking_number,
            "invoiceKey": self.invoice_key,
            "trackingUrl": self.tracking_url,
            "embeddedInvoice": self.embedded_invoice,
            "type": self.kind,
            "courierStatus": courier_status,
            "cfop": self.cfop,
            "restitutions": restitutions,
            "volumes": null,
            "EnableInferItems": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct OrderRec {
    pub order_id: String,
    pub sequence: u64,
    pub order_group: String,
    pub affiliate: Option<String>,
    pub status: OrderStatus,
    pub creation: DateTime<Utc>,
    pub last_change: DateTime<Utc>,
    pub authorized: Option<DateTime<Utc>>,
    pub invoiced: Option<DateTime<Utc>>,
    pub customer: Customer,
    pub address: Address,
    pub items: Vec<Item>,
    pub payment: PaymentMethod,
    pub sla: Sla,
    pub shipping_cents: i64,
    pub discount_cents: i64,
    pub packages: Vec<Package>,
    pub cancel_reason: Option<String>,
    pub canceled_at: Option<DateTime<Utc>>,
}

impl OrderRec {
    pub fn items_total(&self) -> i64 {
        self.items
            .iter()
            .map(|i| i.price * i64::from(i.quantity))
            .sum()
    }

    /// `value`: items - discounts + shipping, in cents.
    pub fn value(&self) -> i64 {
        self.items_total() - self.discount_cents + self.shipping_cents
    }

    /// Sum of `Output` invoices.
    pub fn invoiced_value(&self) -> i64 {
        self.packages
            .iter()
            .filter(|p| p.kind.eq_ignore_ascii_case("output"))
            .map(|p| p.invoice_value)
            .sum()
    }

    /// `origin`: the store's own sales are `Marketplace`, orders an affiliate
    /// (external marketplace) placed are `Fulfillment` (as in the documented list).
    pub fn origin(&self) -> &'static str {
        if self.affiliate.is_some() {
            "Fulfillment"
        } else {
            "Marketplace"
        }
    }

    /// `Domain` of notifications. Assumption: the same as `origin` (the
    /// documented examples show `Marketplace` and `Fulfillment`).
    pub fn domain(&self) -> &'static str {
        self.origin()
    }

    pub fn marketplace_order_id(&self) -> Value {
        match &self.affiliate {
            Some(_) => json!(format!("{}-01", self.order_group)),
            None => json!(""),
        }
    }

    fn payment_fields(&self) -> (&'static str, String, &'static str) {
        match &self.payment {
            PaymentMethod::Pix => ("125", "Pix".to_owned(), "instantPayment"),
            PaymentMethod::Boleto => ("6", "Boleto Bancário".to_owned(), "bankInvoice"),
            PaymentMethod::CreditCard { brand, .. } => {
                let id = match brand.as_str() {
                    "Visa" => "2",
                    "American Express" => "3",
                    "Mastercard" => "4",
                    "Elo" => "9",
                    "Hipercard" => "13",
                    _ => "2",
                };
                (id, brand.clone(), "creditCard")
            }
        }
    }

    fn render_payment(&self) -> Value {
        let (system, name, group) = self.payment_fields();
        let seed = &self.order_id;
        let value = self.value();
        let (installments, first, last, exp_m, exp_y, due, url) = match &self.payment {
            PaymentMethod::CreditCard { installments, .. } => (
                *installments,
                json!("411111"),
                json!("1111"),
                json!("12"),
                json!("2030"),
                Value::Null,
                Value::Null,
            ),
            PaymentMethod::Boleto => (
                1,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                json!((self.creation + TimeDelta::days(3)).format("%Y-%m-%d").to_string()),
                json!(format!(
                    "https://sim.vtexpayments.com.br/BankIssuedInvoice/Transaction/{}/Payment/{}/Installment/{{Installment}}",
                    hex_id(&format!("tx-{seed}")),
                    hex_id(&format!("pay-{seed}"))
                )),
            ),
            PaymentMethod::Pix => (
                1,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ),
        };
        let tid = format!("{}", 10_000_000_000u64 + self.sequence);
        json!({
            "giftCards": [],
            "transactions": [{
                "isActive": true,
                "transactionId": hex_id(&format!("tx-{seed}")),
                "merchantName": "",
                "payments": [{
                    "id": hex_id(&format!("pay-{seed}")),
                    "paymentSystem": system,
                    "paymentSystemName": name,
                    "value": value,
                    "installments": installments,
                    "referenceValue": value,
                    "cardHolder": null,
                    "cardNumber": null,
                    "firstDigits": first,
                    "lastDigits": last,
                    "cvv2": null,
                    "expireMonth": exp_m,
                    "expireYear": exp_y,
                    "url": url,
                    "giftCardId": null,
                    "giftCardName": null,
                    "giftCardCaption": null,
                    "redemptionCode": null,
                    "group": group,
                    "tid": tid,
                    "dueDate": due,
                    "connectorResponses": {"Tid": tid, "ReturnCode": "200", "Message": null, "authId": format!("{:06}", self.sequence % 1_000_000)},
                    "giftCardProvider": null,
                    "giftCardAsDiscount": null,
                    "koinUrl": null,
                    "accountId": null,
                    "parentAccountId": null,
                    "bankIssuedInvoiceIdentificationNumber": null,
                    "bankIssuedInvoiceIdentificationNumberFormatted": null,
                    "bankIssuedInvoiceBarCodeNumber": null,
                    "bankIssuedInvoiceBarCodeType": null,
                    "billingAddress": null,
                    "paymentOrigin": null,
                }],
            }],
        })
    }

    fn render_address(&self) -> Value {
        let a = &self.address;
        json!({
            "addressType": "residential",
            "receiverName": format!("{} {}", self.customer.first_name, self.customer.last_name),
            "addressId": hex_id_lower(&format!("addr-{}", self.order_id)),
            "versionId": null,
            "entityId": null,
            "postalCode": a.postal_code,
            "city": a.city,
            "state": a.state,
            "country": "BRA",
            "street": a.street,
            "number": a.number,
            "neighborhood": a.neighborhood,
            "complement": a.complement,
            "reference": null,
            "geoCoordinates": [],
        })
    }

    /// Shipping price per item: the total split by item, remainder on the first.
    fn shipping_split(&self) -> Vec<i64> {
        let n = self.items.len().max(1) as i64;
        let base = self.shipping_cents / n;
        let mut v = vec![base; self.items.len()];
        if let Some(first) = v.first_mut() {
            *first += self.shipping_cents - base * n;
        }
        v
    }

    fn render_logistics(&self, address_id: &str) -> Vec<Value> {
        let days = self.sla.business_days();
        let estimate = format!("{days}bd");
        let (courier_id, courier) = self.sla.carrier();
        let pickup = json!({
            "additionalInfo": null, "address": null, "dockId": null,
            "friendlyName": null, "isPickupStore": false,
        });
        let eta = self.creation + TimeDelta::days(i64::from(days) + 2);
        self.shipping_split()
            .into_iter()
            .zip(&self.items)
            .enumerate()
            .map(|(i, (price, item))| {
                json!({
                    "itemIndex": i,
                    "selectedSla": self.sla.name(),
                    "lockTTL": "10d",
                    "price": price,
                    "listPrice": price,
                    "sellingPrice": price,
                    "deliveryWindow": null,
                    "deliveryCompany": courier,
                    "shippingEstimate": estimate,
                    "shippingEstimateDate": ts(eta),
                    "slas": [{
                        "id": self.sla.name(),
                        "name": self.sla.name(),
                        "shippingEstimate": estimate,
                        "deliveryWindow": null,
                        "price": price,
                        "deliveryChannel": "delivery",
                        "pickupStoreInfo": pickup,
                        "polygonName": "",
                        "lockTTL": "10d",
                        "pickupPointId": null,
                        "transitTime": format!("{}bd", days.saturating_sub(1).max(1)),
                        "pickupDistance": 0.0,
                    }],
                    "shipsTo": ["BRA"],
                    "deliveryIds": [{
                        "courierId": courier_id,
                        "courierName": courier,
                        "dockId": "1",
                        "quantity": item.quantity,
                        "warehouseId": item.warehouse_id,
                        "accountCarrierName": null,
                        "kitItemDetails": [],
                    }],
                    "deliveryChannels": [{"id": "delivery", "stockBalance": 0}],
                    "deliveryChannel": "delivery",
                    "pickupStoreInfo": pickup,
                    "addressId": address_id,
                    "versionId": null,
                    "entityId": null,
                    "polygonName": "",
                    "pickupPointId": null,
                    "transitTime": format!("{}bd", days.saturating_sub(1).max(1)),
                })
            })
            .collect()
    }

    fn render_items(&self) -> Vec<Value> {
        self.items
            .iter()
            .map(|i| {
                let total = i.price * i64::from(i.quantity);
                json!({
                    "uniqueId": hex_id(&format!("item-{}-{}", self.order_id, i.sku_id)),
                    "id": i.sku_id,
                    "productId": i.product_id,
                    "ean": i.ean,
                    "lockId": format!("00-{}", self.order_id),
                    "itemAttachment": {"content": {}, "name": null},
                    "attachments": [],
                    "quantity": i.quantity,
                    "seller": "1",
                    "name": i.name,
                    "refId": i.ref_id,
                    "price": i.price,
                    "listPrice": i.list_price,
                    "manualPrice": null,
                    "priceTags": [],
                    "imageUrl": format!("https://sim.vteximg.com.br/arquivos/ids/{}-55-55/{}.jpg", 155_000 + i.sku_id.parse::<u64>().unwrap_or(0), i.ref_id),
                    "detailUrl": format!("/{}/p", super::catalog::email_local(&i.name).replace('.', "-")),
                    "components": [],
                    "bundleItems": [],
                    "params": [],
                    "offerings": [],
                    "attachmentOfferings": [],
                    "sellerSku": i.sku_id,
                    "priceValidUntil": null,
                    "commission": 0,
                    "tax": 0,
                    "preSaleDate": null,
                    "additionalInfo": {
                        "brandName": i.brand,
                        "brandId": format!("{}", 2_000_000 + i.product_id.parse::<u64>().unwrap_or(0)),
                        "categoriesIds": "/1/",
                        "categories": [{"id": 1, "name": "Geral"}],
                        "productClusterId": "",
                        "commercialConditionId": "1",
                        "dimension": {"cubicweight": i.weight_kg, "height": 10.0, "length": 20.0, "weight": (i.weight_kg * 1000.0).round(), "width": 15.0},
                        "offeringInfo": null,
                        "offeringType": null,
                        "offeringTypeId": null,
                    },
                    "measurementUnit": "un",
                    "unitMultiplier": 1.0,
                    "sellingPrice": i.price,
                    "isGift": false,
                    "shippingPrice": null,
                    "rewardValue": 0,
                    "freightCommission": 0,
                    "priceDefinition": {
                        "sellingPrices": [{"value": i.price, "quantity": i.quantity}],
                        "calculatedSellingPrice": i.price,
                        "total": total,
                        "reason": null,
                    },
                    "taxCode": null,
                    "parentItemIndex": null,
                    "parentAssemblyBinding": null,
                    "callCenterOperator": null,
                    "serialNumbers": null,
                    "assemblies": [],
                    "costPrice": null,
                })
            })
            .collect()
    }

    fn render_client(&self) -> Value {
        let c = &self.customer;
        let (corp_name, corp_doc, ie, corp_phone) = match &c.corporate {
            Some(k) => (
                json!(k.name),
                json!(k.cnpj),
                json!(k.state_inscription),
                json!(c.phone),
            ),
            None => (Value::Null, Value::Null, Value::Null, Value::Null),
        };
        json!({
            "id": "clientProfileData",
            "email": c.email,
            "firstName": c.first_name,
            "lastName": c.last_name,
            "documentType": "cpf",
            "document": c.cpf,
            "phone": c.phone,
            "corporateName": corp_name,
            "tradeName": corp_name,
            "corporateDocument": corp_doc,
            "stateInscription": ie,
            "corporatePhone": corp_phone,
            "isCorporate": c.corporate.is_some(),
            "userProfileId": hex_id_lower(&format!("profile-{}", c.email)),
            "userProfileVersion": null,
            "customerClass": null,
            "customerCode": null,
        })
    }

    /// The document `GET /api/oms/pvt/orders/{orderId}` answers.
    pub fn render(&self, acc: &AccountInfo<'_>) -> Value {
        let address = self.render_address();
        let address_id = address
            .get("addressId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let canceled = self.status == OrderStatus::Canceled;
        let cancellation = match (&self.cancel_reason, self.canceled_at) {
            (Some(r), Some(at)) if canceled => json!({
                "RequestedByUser": false,
                "RequestedBySystem": false,
                "RequestedBySellerNotification": true,
                "RequestedByPaymentNotification": false,
                "Reason": r,
                "CancellationDate": ts(at),
            }),
            _ => Value::Null,
        };
        let items = self.render_items();
        let metadata: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                json!({
                    "Id": i.sku_id, "Seller": "1", "Name": i.name, "SkuName": i.name,
                    "ProductId": i.product_id, "RefId": i.ref_id, "Ean": i.ean,
                    "ImageUrl": null, "DetailUrl": null, "AssemblyOptions": [],
                })
            })
            .collect();
        let fulfillment = format!(
            "http://fulfillment.vtexcommerce.com.br/api/fulfillment?an={}",
            acc.account
        );
        json!({
            "orderId": self.order_id,
            "sequence": self.sequence.to_string(),
            "marketplaceOrderId": self.marketplace_order_id(),
            "marketplaceServicesEndpoint": format!("http://oms.vtexinternal.com.br/api/oms?an={}", acc.account),
            "sellerOrderId": format!("00-{}", self.order_id),
            "origin": self.origin(),
            "affiliateId": self.affiliate.clone().unwrap_or_default(),
            "salesChannel": "1",
            "merchantName": null,
            "status": self.status.as_str(),
            "workflowIsInError": false,
            "statusDescription": self.status.description(),
            "value": self.value(),
            "creationDate": ts(self.creation),
            "lastChange": ts(self.last_change),
            "orderGroup": self.order_group,
            "followUpEmail": format!("{}@ct.vtex.com.br", hex_id_lower(&format!("fu-{}", self.order_id))),
            "lastMessage": null,
            "hostname": acc.account,
            "isCompleted": true,
            "roundingError": 0,
            "orderFormId": hex_id_lower(&format!("form-{}", self.order_id)),
            "allowCancellation": !self.status.is_final() && self.invoiced_value() == 0,
            "allowEdition": false,
            "isCheckedIn": false,
            "authorizedDate": self.authorized.map(ts),
            "invoicedDate": self.invoiced.map(ts),
            "cancelReason": self.cancel_reason.as_ref().filter(|_| canceled),
            "checkedInPickupPointId": null,
            "totals": [
                {"id": "Items", "name": "Total dos Itens", "value": self.items_total()},
                {"id": "Discounts", "name": "Total dos Descontos", "value": -self.discount_cents},
                {"id": "Shipping", "name": "Total do Frete", "value": self.shipping_cents},
                {"id": "Tax", "name": "Total da Taxa", "value": 0},
            ],
            "sellers": [{"id": "1", "name": acc.seller_name, "logo": "", "fulfillmentEndpoint": fulfillment}],
            "clientPreferencesData": {"locale": "pt-BR", "optinNewsLetter": false},
            "cancellationData": cancellation,
            "taxData": null,
            "subscriptionData": null,
            "itemMetadata": {"Items": metadata},
            "marketplace": {
                "baseURL": format!("http://oms.vtexinternal.com.br/api/oms?an={}", acc.account),
                "isCertified": null,
                "name": acc.account,
            },
            "storePreferencesData": {
                "countryCode": "BRA",
                "currencyCode": "BRL",
                "currencyFormatInfo": {
                    "CurrencyDecimalDigits": 2,
                    "CurrencyDecimalSeparator": ",",
                    "CurrencyGroupSeparator": ".",
                    "CurrencyGroupSize": 3,
                    "StartsWithCurrencySymbol": true,
                },
                "currencyLocale": 1046,
                "currencySymbol": "R$",
                "timeZone": "E. South America Standard Time",
            },
            "customData": null,
            "commercialConditionData": null,
            "openTextField": null,
            "invoiceData": null,
            "changesAttachment": null,
            "callCenterOperatorData": null,
            "packageAttachment": {"packages": self.packages.iter().map(|p| p.render(&self.items)).collect::<Vec<_>>()},
            "paymentData": self.render_payment(),
            "shippingData": {
                "id": "shippingData",
                "address": address,
                "logisticsInfo": self.render_logistics(&address_id),
                "trackingHints": null,
                "selectedAddresses": [address],
                "contactInformation": [{
                    "id": "0",
                    "email": self.customer.email,
                    "firstName": self.customer.first_name,
                    "lastName": self.customer.last_name,
                    "phone": self.customer.phone,
                    "document": self.customer.cpf,
                    "documentType": "cpf",
                    "entityId": null,
                    "versionId": null,
                }],
            },
            "ratesAndBenefitsData": {"id": "ratesAndBenefitsData", "rateAndBenefitsIdentifiers": []},
            "marketingData": null,
            "giftRegistryData": null,
            "clientProfileData": self.render_client(),
            "items": items,
            "marketplaceItems": [],
        })
    }

    /// One entry of `GET /api/oms/pvt/orders` (`list[]`; `items` is always
    /// `null`, as documented since 2018).
    pub fn render_summary(&self) -> Value {
        let (_, pay_name, _) = self.payment_fields();
        let eta = (!matches!(self.status, OrderStatus::Canceled))
            .then(|| ts(self.creation + TimeDelta::days(i64::from(self.sla.business_days()) + 2)));
        json!({
            "orderId": self.order_id,
            "creationDate": ts(self.creation),
            "clientName": format!("{} {}", self.customer.first_name, self.customer.last_name),
            "items": null,
            "totalValue": self.value(),
            "paymentNames": pay_name,
            "status": self.status.as_str(),
            "statusDescription": self.status.description(),
            "marketPlaceOrderId": self.affiliate.as_ref().map(|_| format!("{}-01", self.order_group)),
            "sequence": self.sequence.to_string(),
            "salesChannel": "1",
            "affiliateId": self.affiliate.clone().unwrap_or_default(),
            "origin": self.origin(),
            "workflowInErrorState": false,
            "workflowInRetry": false,
            "lastMessageUnread": null,
            "ShippingEstimatedDate": eta,
            "ShippingEstimatedDateMax": null,
            "ShippingEstimatedDateMin": null,
            "orderIsComplete": true,
            "listId": null,
            "listType": null,
            "authorizedDate": self.authorized.map(ts),
            "callCenterOperatorName": null,
            "totalItems": self.items.iter().map(|i| i.quantity).sum::<u32>(),
            "currencyCode": "BRL",
        })
    }
}
