//! `usso-rs-agent-jwt AGENT_ID [SCOPE…] < private-key.pem`: prints the agent JWT the official
//! Rust SDK (`usso::utils::agent::generate_agent_jwt`, audience `sso`) signs with the PKCS#8
//! PEM private key read from standard input.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((agent, scopes)) = args.split_first() else {
        eprintln!("usage: usso-rs-agent-jwt AGENT_ID [SCOPE…] < key.pem");
        std::process::exit(2);
    };
    let key = std::io::read_to_string(std::io::stdin()).expect("a PEM key on stdin");
    let jwt = usso::utils::agent::generate_agent_jwt(scopes, "sso", None, Some(agent), Some(&key));
    println!("{jwt}");
}
