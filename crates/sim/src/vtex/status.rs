//! Order workflow statuses (`status` of the order, `State`/`LastState` of
//! notifications). Wire values from the Orders API spec (`f_status` and the
//! feed filter's status list) and the Feed v3 guide.

/// An order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// `order-created`.
    OrderCreated,
    /// `waiting-for-sellers-confirmation`.
    WaitingForSellersConfirmation,
    /// `payment-pending`.
    PaymentPending,
    /// `payment-approved`.
    PaymentApproved,
    /// `window-to-cancel` (grace period in which the customer may cancel).
    WindowToCancel,
    /// `ready-for-handling`: the integration should pick the order up.
    ReadyForHandling,
    /// `start-handling` (transient, right after `POST .../start-handling`).
    StartHandling,
    /// `handling`.
    Handling,
    /// `invoice` (transient: invoice being verified).
    Invoice,
    /// `invoiced` (final for the sale).
    Invoiced,
    /// `cancel` (transient: cancellation being processed).
    Cancel,
    /// `canceled`.
    Canceled,
}

const ALL: [OrderStatus; 12] = [
    OrderStatus::OrderCreated,
    OrderStatus::WaitingForSellersConfirmation,
    OrderStatus::PaymentPending,
    OrderStatus::PaymentApproved,
    OrderStatus::WindowToCancel,
    OrderStatus::ReadyForHandling,
    OrderStatus::StartHandling,
    OrderStatus::Handling,
    OrderStatus::Invoice,
    OrderStatus::Invoiced,
    OrderStatus::Cancel,
    OrderStatus::Canceled,
];

impl OrderStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order-created",
            Self::WaitingForSellersConfirmation => "waiting-for-sellers-confirmation",
            Self::PaymentPending => "payment-pending",
            Self::PaymentApproved => "payment-approved",
            Self::WindowToCancel => "window-to-cancel",
            Self::ReadyForHandling => "ready-for-handling",
            Self::StartHandling => "start-handling",
            Self::Handling => "handling",
            Self::Invoice => "invoice",
            Self::Invoiced => "invoiced",
            Self::Cancel => "cancel",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the wire value.
    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// `statusDescription` (pt-BR, as the documented examples show it). The
    /// documented ones are `Faturado`, `Preparando Entrega`, `Pronto para o
    /// manuseio` and `Cancelado`; the others are the simulator's assumption.
    pub fn description(self) -> &'static str {
        match self {
            Self::OrderCreated => "Processando",
            Self::WaitingForSellersConfirmation => "Aguardando confirmação do seller",
            Self::PaymentPending => "Pagamento Pendente",
            Self::PaymentApproved => "Pagamento Aprovado",
            Self::WindowToCancel => "Carência para Cancelamento",
            Self::ReadyForHandling => "Pronto para o manuseio",
            Self::StartHandling => "Iniciar Manuseio",
            Self::Handling => "Preparando Entrega",
            Self::Invoice => "Verificando Fatura",
            Self::Invoiced => "Faturado",
            Self::Cancel => "Cancelando",
            Self::Canceled => "Cancelado",
        }
    }

    /// Cancellation is refused for invoiced orders (documented: "Orders with
    /// `invoiced` status cannot be canceled") and is a no-op on cancelled ones.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Invoiced | Self::Canceled)
    }

    /// Statuses in which the stock of the order is reserved (before handling).
    pub fn reserves_stock(self) -> bool {
        matches!(
            self,
            Self::OrderCreated
                | Self::WaitingForSellersConfirmation
                | Self::PaymentPending
                | Self::PaymentApproved
                | Self::WindowToCancel
                | Self::ReadyForHandling
        )
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("nope"), None);
    }
}
