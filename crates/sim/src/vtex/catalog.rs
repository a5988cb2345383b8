//! Generated Brazilian data for VTEX orders: people, places, the SKU catalogue,
//! and documents with valid check digits (CPF, CNPJ, EAN-13, NF-e access key).
//!
//! Documents and names come from the Nuvemshop simulator's generators (`brdata`).

pub use crate::nuvemshop::brdata::{email_local, pick, random_cnpj, random_cpf, random_ean13};
use rand::Rng;

pub const FIRST_NAMES: &[&str] = &[
    "Ana", "Beatriz", "Bruno", "Camila", "Carlos", "Daniela", "Eduardo", "Fernanda", "Gabriel",
    "Helena", "Igor", "Juliana", "Lucas", "Mariana", "Mateus", "Natália", "Otávio", "Paula",
    "Rafael", "Sofia", "Thiago", "Vitória", "João", "Larissa",
];

pub const SURNAMES: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Araújo",
    "Barbosa",
    "Rocha",
    "Dias",
    "Nascimento",
    "Gonçalves",
    "Moreira",
];

pub const COMPANY_WORDS: &[&str] = &[
    "Comercial",
    "Distribuidora",
    "Papelaria",
    "Mercadinho",
    "Atacado",
    "Empório",
];

pub const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.com.br",
    "uol.com.br",
    "bol.com.br",
];

pub const STREETS: &[&str] = &[
    "Rua das Flores",
    "Avenida Brasil",
    "Rua XV de Novembro",
    "Rua São João",
    "Avenida Paulista",
    "Rua Sete de Setembro",
    "Rua Tiradentes",
    "Avenida Rio Branco",
    "Rua Barão do Rio Branco",
    "Rua Santos Dumont",
];

pub const NEIGHBORHOODS: &[&str] = &[
    "Centro",
    "Jardim América",
    "Vila Mariana",
    "Boa Vista",
    "Copacabana",
    "Savassi",
    "Batel",
    "Moinhos de Vento",
    "Pituba",
    "Boa Viagem",
    "Aldeota",
    "Asa Sul",
];

/// (city, UF, area code, CEP prefix, IBGE state code for NF-e keys).
pub const PLACES: &[(&str, &str, &str, &str, &str)] = &[
    ("São Paulo", "SP", "11", "01", "35"),
    ("Campinas", "SP", "19", "13", "35"),
    ("Rio de Janeiro", "RJ", "21", "20", "33"),
    ("Niterói", "RJ", "21", "24", "33"),
    ("Belo Horizonte", "MG", "31", "30", "31"),
    ("Curitiba", "PR", "41", "80", "41"),
    ("Porto Alegre", "RS", "51", "90", "43"),
    ("Florianópolis", "SC", "48", "88", "42"),
    ("Salvador", "BA", "71", "40", "29"),
    ("Recife", "PE", "81", "50", "26"),
    ("Fortaleza", "CE", "85", "60", "23"),
    ("Brasília", "DF", "61", "70", "53"),
    ("Goiânia", "GO", "62", "74", "52"),
    ("Manaus", "AM", "92", "69", "13"),
];

/// (product name, brand, ref-id stem, base price in cents, weight kg, variations).
pub type Product = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    f64,
    &'static [&'static str],
);

pub const PRODUCTS: &[Product] = &[
    (
        "Camiseta Básica Algodão",
        "Ponte Wear",
        "CAM",
        4990,
        0.2,
        &["P", "M", "G", "GG"],
    ),
    (
        "Caneca Cerâmica 300ml",
        "Casa Boa",
        "CAN",
        3490,
        0.35,
        &["Branca", "Preta"],
    ),
    (
        "Tênis Corrida Leve",
        "Passo Firme",
        "TEN",
        29990,
        0.8,
        &["38", "39", "40", "41", "42"],
    ),
    (
        "Mochila Executiva",
        "Rota",
        "MOC",
        18990,
        0.9,
        &["Preta", "Cinza"],
    ),
    (
        "Garrafa Térmica 500ml",
        "Casa Boa",
        "GAR",
        8990,
        0.45,
        &["Inox", "Azul", "Rosa"],
    ),
    (
        "Fone de Ouvido Bluetooth",
        "Sonora",
        "FON",
        12990,
        0.25,
        &["Preto", "Branco"],
    ),
    (
        "Café Especial 250g",
        "Serra Alta",
        "CAF",
        3990,
        0.25,
        &["Grãos", "Moído"],
    ),
    (
        "Jaqueta Jeans",
        "Ponte Wear",
        "JAQ",
        21990,
        0.7,
        &["P", "M", "G"],
    ),
    (
        "Livro Receitas Brasileiras",
        "Editora Sabor",
        "LIV",
        6990,
        0.6,
        &["Único"],
    ),
    (
        "Vela Aromática",
        "Casa Boa",
        "VEL",
        4490,
        0.4,
        &["Lavanda", "Baunilha"],
    ),
];

/// A SKU of the simulated catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Sku {
    /// SKU id (`items[].id`), numeric string.
    pub id: String,
    /// Product id (`items[].productId`).
    pub product_id: String,
    /// Reference code (`items[].refId`).
    pub ref_id: String,
    /// EAN-13.
    pub ean: String,
    /// SKU name (`items[].name`): product name plus variation.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Price in cents.
    pub price: i64,
    /// Weight in kg.
    pub weight_kg: f64,
}

/// The deterministic catalogue: SKU ids `1`, `2`, ... in product order, product
/// ids `1`, `2`, ... (VTEX ids are small integers rendered as strings).
pub fn catalogue<R: Rng + ?Sized>(rng: &mut R) -> Vec<Sku> {
    let mut out = Vec::new();
    for (pi, (name, brand, stem, price, weight, vars)) in PRODUCTS.iter().enumerate() {
        for (vi, v) in vars.iter().enumerate() {
            let id = out.len() + 1;
            out.push(Sku {
                id: id.to_string(),
                product_id: (pi + 1).to_string(),
                ref_id: format!("{stem}-{:03}-{}", pi + 1, vi + 1),
                ean: random_ean13(rng),
                name: format!("{name} {v}"),
                brand: (*brand).to_owned(),
                price: *price,
                weight_kg: *weight,
            });
        }
    }
    out
}

/// A 44-digit NF-e access key (`cUF AAMM CNPJ mod serie nNF tpEmis cNF cDV`)
/// with a valid mod-11 check digit.
pub fn nfe_key<R: Rng + ?Sized>(
    rng: &mut R,
    uf_code: &str,
    yymm: &str,
    cnpj: &str,
    number: u64,
) -> String {
    let mut s = format!(
        "{uf_code}{yymm}{cnpj}55001{number:09}1{:08}",
        rng.gen_range(0..100_000_000u32)
    );
    let digits: Vec<u8> = s.bytes().filter_map(|b| b.checked_sub(b'0')).collect();
    // Weights 2..9 from the right.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * (2 + (i as u32 % 8)))
        .sum();
    let r = sum % 11;
    let dv = if r < 2 { 0 } else { 11 - r };
    s.push(char::from(b'0' + dv as u8));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuvemshop::{cnpj_is_valid, cpf_is_valid};
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn documents_are_valid() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            assert!(cpf_is_valid(&random_cpf(&mut rng)));
            assert!(cnpj_is_valid(&random_cnpj(&mut rng)));
        }
        let key = nfe_key(&mut rng, "35", "2401", "11222333000181", 42);
        assert_eq!(key.len(), 44);
        assert!(key.bytes().all(|b| b.is_ascii_digit()));
        let cat = catalogue(&mut rng);
        assert_eq!(cat[0].id, "1");
        assert!(cat.iter().all(|s| s.ean.len() == 13));
    }
}
