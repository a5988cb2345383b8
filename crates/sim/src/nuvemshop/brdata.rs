//! Brazilian reference data for generated orders: names, places, documents.

use rand::Rng;

pub const FIRST_NAMES: &[&str] = &[
    "Ana",
    "Beatriz",
    "Camila",
    "Daniela",
    "Eduarda",
    "Fernanda",
    "Gabriela",
    "Helena",
    "Isabela",
    "Juliana",
    "Larissa",
    "Mariana",
    "Natália",
    "Patrícia",
    "Rafaela",
    "Sofia",
    "Tatiane",
    "Vitória",
    "Alice",
    "Luíza",
    "André",
    "Bruno",
    "Carlos",
    "Diego",
    "Eduardo",
    "Felipe",
    "Gustavo",
    "Henrique",
    "Igor",
    "João",
    "Lucas",
    "Marcelo",
    "Mateus",
    "Pedro",
    "Rafael",
    "Rodrigo",
    "Thiago",
    "Vinícius",
    "Gabriel",
    "José",
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
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
    "Rocha",
    "Dias",
    "Nascimento",
    "Andrade",
    "Moreira",
    "Nunes",
    "Marques",
    "Machado",
    "Mendes",
    "Freitas",
    "Cardoso",
    "Ramos",
    "Gonçalves",
    "Araújo",
    "Teixeira",
];

pub const COMPANY_WORDS: &[&str] = &[
    "Comercial",
    "Distribuidora",
    "Papelaria",
    "Mercearia",
    "Ateliê",
    "Empório",
    "Loja",
    "Farmácia",
    "Livraria",
    "Padaria",
];

pub const COMPANY_SUFFIX: &[&str] = &["Ltda", "ME", "EIRELI", "S.A."];

pub const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.com.br",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "icloud.com",
];

pub const STREETS: &[&str] = &[
    "Rua das Flores",
    "Avenida Paulista",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua da Consolação",
    "Rua Sete de Setembro",
    "Avenida Getúlio Vargas",
    "Rua Tiradentes",
    "Rua Dom Pedro II",
    "Avenida Independência",
    "Rua Santos Dumont",
    "Rua Marechal Deodoro",
    "Avenida Atlântica",
    "Rua Barão do Rio Branco",
    "Travessa São José",
];

pub const LOCALITIES: &[&str] = &[
    "Centro",
    "Jardim América",
    "Vila Mariana",
    "Boa Vista",
    "Santa Cecília",
    "Copacabana",
    "Savassi",
    "Batel",
    "Moinhos de Vento",
    "Pituba",
    "Boa Viagem",
    "Aldeota",
    "Asa Sul",
];

/// (city, state name as Nuvemshop shows it in `province`, area code, CEP prefix).
pub const PLACES: &[(&str, &str, &str, &str)] = &[
    ("São Paulo", "São Paulo", "11", "01"),
    ("Campinas", "São Paulo", "19", "13"),
    ("Rio de Janeiro", "Rio de Janeiro", "21", "20"),
    ("Niterói", "Rio de Janeiro", "21", "24"),
    ("Belo Horizonte", "Minas Gerais", "31", "30"),
    ("Curitiba", "Paraná", "41", "80"),
    ("Porto Alegre", "Rio Grande do Sul", "51", "90"),
    ("Florianópolis", "Santa Catarina", "48", "88"),
    ("Salvador", "Bahia", "71", "40"),
    ("Recife", "Pernambuco", "81", "50"),
    ("Fortaleza", "Ceará", "85", "60"),
    ("Brasília", "Distrito Federal", "61", "70"),
    ("Goiânia", "Goiás", "62", "74"),
    ("Manaus", "Amazonas", "92", "69"),
    ("Belém", "Pará", "91", "66"),
    ("Vitória", "Espírito Santo", "27", "29"),
    ("Natal", "Rio Grande do Norte", "84", "59"),
    ("Campo Grande", "Mato Grosso do Sul", "67", "79"),
];

/// (product name, sku stem, base price in cents, weight kg, variant values).
pub const PRODUCTS: &[(&str, &str, i64, &str, &[&str])] = &[
    (
        "Camiseta Básica Algodão",
        "CAM",
        4990,
        "0.200",
        &["P", "M", "G", "GG"],
    ),
    (
        "Caneca Cerâmica 300ml",
        "CAN",
        3490,
        "0.350",
        &["Branca", "Preta"],
    ),
    (
        "Tênis Corrida Leve",
        "TEN",
        29990,
        "0.800",
        &["38", "39", "40", "41", "42"],
    ),
    (
        "Mochila Executiva",
        "MOC",
        18990,
        "0.900",
        &["Preta", "Cinza"],
    ),
    (
        "Garrafa Térmica 500ml",
        "GAR",
        8990,
        "0.450",
        &["Inox", "Azul", "Rosa"],
    ),
    (
        "Vestido Midi Floral",
        "VES",
        15990,
        "0.300",
        &["P", "M", "G"],
    ),
    (
        "Fone de Ouvido Bluetooth",
        "FON",
        12990,
        "0.250",
        &["Preto", "Branco"],
    ),
    ("Kit Pincéis Maquiagem", "PIN", 5990, "0.150", &["Único"]),
    (
        "Café Especial 250g",
        "CAF",
        3990,
        "0.250",
        &["Grãos", "Moído"],
    ),
    (
        "Capa de Celular Silicone",
        "CAP",
        2990,
        "0.050",
        &["Preta", "Transparente", "Lilás"],
    ),
    ("Jaqueta Jeans", "JAQ", 21990, "0.700", &["P", "M", "G"]),
    (
        "Livro Receitas Brasileiras",
        "LIV",
        6990,
        "0.600",
        &["Único"],
    ),
    (
        "Sandália Rasteira",
        "SAN",
        7990,
        "0.300",
        &["35", "36", "37", "38"],
    ),
    (
        "Vela Aromática",
        "VEL",
        4490,
        "0.400",
        &["Lavanda", "Baunilha"],
    ),
    ("Boné Aba Curva", "BON", 6990, "0.150", &["Único"]),
];

pub fn pick<'a, R: Rng + ?Sized>(rng: &mut R, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

fn mod11_digit(digits: &[u8], weights: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * u32::from(*w))
        .sum();
    let r = sum % 11;
    if r < 2 {
        0
    } else {
        (11 - r) as u8
    }
}

fn to_string(d: &[u8]) -> String {
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

fn digits_of(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

/// Completes 9 base digits with the two CPF check digits.
pub fn cpf_from_base(base: &[u8; 9]) -> String {
    let mut d = base.to_vec();
    d.push(mod11_digit(&d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]));
    d.push(mod11_digit(&d, &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]));
    to_string(&d)
}

/// Completes 12 base digits with the two CNPJ check digits.
pub fn cnpj_from_base(base: &[u8; 12]) -> String {
    const W1: [u8; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    const W2: [u8; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let mut d = base.to_vec();
    d.push(mod11_digit(&d, &W1));
    d.push(mod11_digit(&d, &W2));
    to_string(&d)
}

/// True for 11 digits with valid check digits (not all equal).
pub fn cpf_is_valid(s: &str) -> bool {
    let Some(d) = digits_of(s) else { return false };
    if d.len() != 11 || d.iter().all(|x| *x == d[0]) {
        return false;
    }
    let mut base = [0u8; 9];
    base.copy_from_slice(&d[..9]);
    cpf_from_base(&base) == s
}

/// True for 14 digits with valid check digits (not all equal).
pub fn cnpj_is_valid(s: &str) -> bool {
    let Some(d) = digits_of(s) else { return false };
    if d.len() != 14 || d.iter().all(|x| *x == d[0]) {
        return false;
    }
    let mut base = [0u8; 12];
    base.copy_from_slice(&d[..12]);
    cnpj_from_base(&base) == s
}

pub fn random_cpf<R: Rng + ?Sized>(rng: &mut R) -> String {
    loop {
        let mut base = [0u8; 9];
        for b in &mut base {
            *b = rng.gen_range(0..10);
        }
        if base.iter().any(|x| *x != base[0]) {
            return cpf_from_base(&base);
        }
    }
}

/// A CNPJ of a head office (`0001` branch).
pub fn random_cnpj<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut base = [0u8; 12];
    for b in &mut base[..8] {
        *b = rng.gen_range(0..10);
    }
    base[8..].copy_from_slice(&[0, 0, 0, 1]);
    cnpj_from_base(&base)
}

/// Breaks the last check digit (so the document is invalid on purpose).
pub fn corrupt(doc: &str) -> String {
    let mut b = doc.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        *last = b'0' + ((*last - b'0' + 1) % 10);
    }
    String::from_utf8(b).unwrap_or_default()
}

/// A valid EAN-13 with the Brazilian `789` prefix.
pub fn random_ean13<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut d = vec![7u8, 8, 9];
    for _ in 0..9 {
        d.push(rng.gen_range(0..10));
    }
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, x)| u32::from(*x) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    to_string(&d)
}

/// `"João Gonçalves"` -> `"joao.goncalves"`.
pub fn email_local(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' => 'a',
            'é' | 'ê' => 'e',
            'í' => 'i',
            'ó' | 'ô' | 'õ' => 'o',
            'ú' | 'ü' => 'u',
            'ç' => 'c',
            ' ' => '.',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn known_documents() {
        // Well-known valid test numbers.
        assert!(cpf_is_valid("52998224725"));
        assert!(cnpj_is_valid("11222333000181"));
        assert!(!cpf_is_valid("52998224726"));
        assert!(!cpf_is_valid("11111111111"));
        assert!(!cnpj_is_valid("11222333000180"));
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let cpf = random_cpf(&mut rng);
            assert!(cpf_is_valid(&cpf), "{cpf}");
            assert!(!cpf_is_valid(&corrupt(&cpf)));
            let cnpj = random_cnpj(&mut rng);
            assert!(cnpj_is_valid(&cnpj), "{cnpj}");
            assert!(!cnpj_is_valid(&corrupt(&cnpj)));
        }
        assert_eq!(email_local("João Gonçalves"), "joao.goncalves");
        assert_eq!(random_ean13(&mut rng).len(), 13);
    }
}
