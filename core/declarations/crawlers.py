"""The AI-training crawlers a site can refuse in robots.txt: one table, read by the robots.txt
snippet, its merge and `fixative check --site`.

Each entry is a product token its operator documents (RFC 9309 § 2.2.1 matches it, case-
insensitively, against the `User-agent` lines), who runs it and what refusing it controls, as
the operators' pages said in December 2026. Ordinary search crawlers (Googlebot, Bingbot,
Applebot, DuckDuckBot) are deliberately absent: refusing them would take the artist's pages out
of search. Where an operator separates search from training (Google-Extended, Applebot-
Extended), only the training token is listed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Crawler:
    token: str  # the User-agent product token
    operator: str
    controls: str  # what `Disallow: /` for this token refuses, in words


AI_TRAINING_CRAWLERS: tuple[Crawler, ...] = (
    Crawler("GPTBot", "OpenAI", "crawling for the training of OpenAI's generative models"),
    Crawler("ClaudeBot", "Anthropic", "crawling for the training of Anthropic's models"),
    Crawler(
        "CCBot",
        "Common Crawl",
        "the open Common Crawl corpus, a main source of AI training sets (LAION's images)",
    ),
    Crawler(
        "Google-Extended",
        "Google",
        "use of what Google crawls for training Gemini models (Google Search is not affected)",
    ),
    Crawler(
        "Applebot-Extended",
        "Apple",
        "use of what Applebot crawls for training Apple's models (Apple's search is not affected)",
    ),
    Crawler("meta-externalagent", "Meta", "crawling for the training of Meta's AI models"),
    Crawler(
        "FacebookBot", "Meta", "crawling for the training of Meta's speech and language models"
    ),
    Crawler("Bytespider", "ByteDance", "crawling for the training of ByteDance's models"),
    Crawler("Amazonbot", "Amazon", "crawling whose data Amazon may use to train its AI models"),
    Crawler(
        "PerplexityBot", "Perplexity", "indexing for Perplexity's AI answers (not its user fetches)"
    ),
    Crawler(
        "cohere-training-data-crawler", "Cohere", "crawling for the training of Cohere's models"
    ),
    Crawler("AI2Bot", "Allen Institute for AI", "crawling for the training of open AI models"),
)
# Ordinary search crawlers the snippet leaves alone (the tests check they stay allowed).
SEARCH_CRAWLERS = ("Googlebot", "Bingbot", "Applebot", "DuckDuckBot")


def tokens() -> list[str]:
    return [c.token for c in AI_TRAINING_CRAWLERS]
