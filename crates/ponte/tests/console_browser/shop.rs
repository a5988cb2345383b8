//! What the console tests look at: ponte with a Nuvemshop channel on the simulator,
//! four paid orders imported through webhooks, each with a separation sent to the
//! platform. The simulator refuses the separation of three of them until they run out
//! of attempts (they wait in Erros) and takes the fourth. [`Bare`] is ponte and the
//! simulator alone, for the tests that set up their own channel.

use crate::common::{until, Backend, Ponte, Sim, Storage};
use ponte_sim::nuvemshop::{
    Fault, FaultKind, Method, NewCustomer, NewLine, NewOrder, PaymentStatus,
};
use serde_json::{json, Value};
use std::time::Duration;

/// The password of every person the browser tests add.
pub const PASSWORD: &str = "senha-do-navegador-1";

/// Adds a person with this role (`viewer`, `operator`, `admin`) through the API, who
/// signs in with [`PASSWORD`]; returns the e-mail.
pub async fn person(p: &Ponte, role: &str) -> String {
    let email = format!("{role}@loja-teste.com.br");
    let (status, body) = p
        .post(
            "/api/v1/users",
            &json!({"email": email, "name": format!("Pessoa {role}"), "role": role, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    email
}

/// ponte and a simulated Nuvemshop store, no channel yet.
pub struct Bare {
    pub sim: Sim,
    pub p: Ponte,
    /// Its data directory (kept until `p` has stopped).
    _storage: Storage,
}

impl Bare {
    pub async fn open() -> Bare {
        let storage = Storage::new(Backend::Sqlite).await;
        let sim = Sim::start(Sim::unlimited()).await;
        let p = storage.start(&[]);
        Bare {
            sim,
            p,
            _storage: storage,
        }
    }
}

/// Places a paid order at the simulator and waits until ponte has imported it through
/// the channel's webhook `url`; returns (platform id, ponte's id, number).
pub async fn paid_order(
    sim: &Sim,
    p: &Ponte,
    url: &str,
    customer: NewCustomer,
    lines: Vec<NewLine>,
) -> (u64, String, String) {
    let ext = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        customer,
        lines,
        ..NewOrder::default()
    });
    let id = p.imported(sim, url, ext).await;
    let number = sim.sim.order(ext).unwrap()["number"].to_string();
    (ext, id, number)
}

/// An order line: `quantity` of variant `variant` (of product `variant / 10`).
pub fn line(variant: u64, sku: &str, name: &str, quantity: u32, cents: i64) -> NewLine {
    NewLine {
        variant_id: Some(variant),
        product_id: Some(variant / 10),
        quantity,
        price_cents: Some(cents),
        name: Some(name.to_owned()),
        sku: Some(sku.to_owned()),
    }
}

/// A customer with this name and CPF or CNPJ.
pub fn customer(name: &str, document: &str) -> NewCustomer {
    NewCustomer {
        name: name.to_owned(),
        email: "compras@example.com.br".to_owned(),
        identification: document.to_owned(),
        phone: "+5511987654321".to_owned(),
    }
}

/// One order as the operator meets it.
pub struct Placed {
    /// The platform's id (shown in Erros and the history).
    pub ext: u64,
    /// ponte's id.
    pub id: String,
    /// The number the store shows (the order list and page).
    pub number: String,
    /// Its separation's status-send id.
    pub send: String,
}

/// A running ponte with its simulator and orders.
pub struct Shop {
    pub sim: Sim,
    pub p: Ponte,
    /// Its data directory (kept until `p` has stopped).
    _storage: Storage,
    /// The channel's id.
    pub channel: String,
    /// Its webhook URL (where the simulator notifies orders).
    pub webhook: String,
    /// Maria Silva (CPF), two lines, separation sent.
    pub cpf: Placed,
    /// A company (CNPJ), separation refused.
    pub cnpj: Placed,
    /// Two more orders whose separation was refused.
    pub refused: [Placed; 2],
}

/// A valid CPF and a valid CNPJ, digits only.
pub const CPF: &str = "52998224725";
pub const CNPJ: &str = "11222333000181";

impl Shop {
    /// Starts everything and waits until the sends are where the tests begin: one
    /// succeeded, three failed after three attempts.
    pub async fn open() -> Shop {
        let bare = Bare::open().await;
        let (channel, url) = bare.p.nuvemshop_channel(&bare.sim, "paid_only").await;
        let orders = [
            (
                customer("Maria Silva", CPF),
                vec![
                    line(7001, "CAM-AZUL-M", "Camiseta Azul M", 2, 123_456),
                    line(7002, "MEIA-01", "Meia Esportiva", 1, 1_990),
                ],
            ),
            (
                customer("Comercial Andrade Ltda", CNPJ),
                vec![line(7003, "CANECA-01", "Caneca Cerâmica", 3, 4_990)],
            ),
            (
                customer("João Pereira", CPF),
                vec![line(7001, "CAM-AZUL-M", "Camiseta Azul M", 1, 123_456)],
            ),
            (
                customer("Ana Souza", CPF),
                vec![line(7002, "MEIA-01", "Meia Esportiva", 4, 1_990)],
            ),
        ];
        let mut placed = vec![];
        for (i, (customer, lines)) in orders.into_iter().enumerate() {
            let (ext, id, number) = paid_order(&bare.sim, &bare.p, &url, customer, lines).await;
            if i > 0 {
                // The platform refuses this order's change until it is fixed.
                bare.sim.sim.inject(
                    Fault::new(
                        format!("/orders/{ext}/fulfillment-orders/"),
                        1000,
                        FaultKind::Status(500),
                    )
                    .with_method(Method::PATCH),
                );
            }
            let (status, r) = bare
                .p
                .post(
                    &format!("/api/v1/orders/{id}/separation"),
                    &json!({"kind": "separation"}),
                )
                .await;
            assert_eq!(status, 200, "{r}");
            let send = r["send"]["send_id"].as_str().unwrap().to_owned();
            placed.push(Placed {
                ext,
                id,
                number,
                send,
            });
        }
        let [cpf, cnpj, a, b] = <[Placed; 4]>::try_from(placed).ok().unwrap();
        let Bare { sim, p, _storage } = bare;
        let shop = Shop {
            sim,
            p,
            _storage,
            channel,
            webhook: url,
            cpf,
            cnpj,
            refused: [a, b],
        };
        shop.wait_sent(&shop.cpf, "succeeded").await;
        for o in [&shop.cnpj, &shop.refused[0], &shop.refused[1]] {
            let s = shop.wait_sent(o, "failed").await;
            assert_eq!(s["attempts_used"], 3, "{s}");
        }
        shop
    }

    /// The platform takes changes again.
    pub fn fix(&self) {
        self.sim.sim.clear_faults();
    }

    /// Waits until the order's separation is in `state`; returns the send.
    pub async fn wait_sent(&self, o: &Placed, state: &str) -> Value {
        until(
            Duration::from_secs(30),
            &format!("send of {} {state}", o.ext),
            || async {
                let s = self
                    .p
                    .get(&format!("/api/v1/status-sends/{}", o.send))
                    .await;
                (s["state"] == state).then_some(s)
            },
        )
        .await
    }
}
