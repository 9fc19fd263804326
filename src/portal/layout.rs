//! The page frame: header with the configured title, logo and navigation, the sign-out form
//! for a signed-in developer, and the embedded stylesheet and script. maud escapes every
//! interpolated string; nothing here builds HTML by hand.

use super::PortalState;
use crate::store::portal::Session;
use maud::{html, Markup, DOCTYPE};

/// Who is looking and where: drives the navigation.
pub struct Nav {
    /// The signed-in developer's email and session CSRF token.
    pub user: Option<(String, String)>,
    /// The section to mark current: "apis", "apps", "usage", "login", "signup".
    pub current: &'static str,
}

impl Nav {
    pub fn anonymous(current: &'static str) -> Nav {
        Nav { user: None, current }
    }

    /// For `user` when signed in, else as for anyone.
    pub fn of(user: Option<&Session>, current: &'static str) -> Nav {
        Nav { user: user.map(|u| (u.email.clone(), u.csrf.clone())), current }
    }
}

fn link(nav: &Nav, section: &str, href: &str, text: &str) -> Markup {
    html! {
        @if nav.current == section { a href=(href) aria-current="page" { (text) } }
        @else { a href=(href) { (text) } }
    }
}

pub fn layout(st: &PortalState, nav: &Nav, title: &str, body: Markup) -> Markup {
    let b = &st.branding;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (b.title) }
                link rel="stylesheet" href="/assets/portal.css";
                link rel="stylesheet" href="/assets/theme.css";
                link rel="stylesheet" href="/assets/docs.css";
                script src="/assets/portal.js" defer {}
                script src="/assets/docs.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" {
                        @if b.logo.is_some() { img src="/assets/logo" alt="" width="32" height="32"; }
                        span { (b.title) }
                    }
                    nav aria-label="Main" {
                        (link(nav, "apis", "/", "APIs"))
                        @if let Some((email, csrf)) = &nav.user {
                            (link(nav, "apps", "/apps", "Apps"))
                            (link(nav, "usage", "/usage", "Usage"))
                            span class="who" { (email) }
                            form method="post" action="/logout" class="inline" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" class="link" { "Sign out" }
                            }
                        } @else {
                            (link(nav, "login", "/login", "Sign in"))
                            (link(nav, "signup", "/signup", "Sign up"))
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}
