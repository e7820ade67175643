"""Fake but realistic first and last names per language group, with ASCII slugs for e-mail addresses."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

_GROUPS: dict[str, tuple[str, str]] = {
    "en": (
        "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard "
        "Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Emily Matthew Olivia Anthony Sophie Mark "
        "Grace Oliver Amelia Harry Chloe George Isla Jack Ava Noah Ella Ethan Zoe",
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson "
        "Martin Lee Thompson White Harris Clark Lewis Walker Hall Allen Young King Wright Scott Green "
        "Baker Adams Evans Roberts Hughes Wood Patel Khan O'Brien Murphy Campbell Stewart",
    ),
    "de": (
        "Lukas Anna Leon Lena Finn Mia Jonas Hannah Paul Emma Felix Sophie Maximilian Marie Elias Lea "
        "Jan Laura Tobias Julia Niklas Katharina Moritz Johanna Jürgen Sabine",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Bauer Richter "
        "Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hartmann Lange Werner",
    ),
    "fr": (
        "Lucas Emma Hugo Léa Louis Chloé Gabriel Manon Arthur Camille Jules Inès Nathan Sarah Théo "
        "Juliette Raphaël Zoé Antoine Claire Mathis Julie",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre "
        "Michel Garcia David Bertrand Roux Vincent Fournier Girard Bonnet",
    ),
    "nl": (
        "Daan Emma Sem Julia Lucas Mila Levi Sophie Finn Tess Milan Zoë Bram Sara Thijs Anna Jesse Eva "
        "Ruben Lotte",
        "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer Mulder "
        "de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer",
    ),
    "es": (
        "Hugo Lucía Martín Sofía Pablo María Daniel Paula Alejandro Julia Álvaro Carmen Diego Elena "
        "Javier Laura",
        "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz "
        "Hernández Díaz Moreno Álvarez",
    ),
    "it": (
        "Leonardo Sofia Francesco Giulia Alessandro Aurora Lorenzo Alice Mattia Ginevra Andrea Emma "
        "Gabriele Giorgia Marco Chiara",
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
        "De_Luca Costa Giordano",
    ),
    "intl": (
        "Ana Bruno Priya Arjun Chinedu Ngozi Ivan Olga Wei Li Andrei Elena Minh Linh Rafael Camila Rahul "
        "Aisha Dmitri Mei",
        "Silva Santos Oliveira Sharma Singh Okafor Adeyemi Ivanov Petrova Wang Zhang Popescu Ionescu "
        "Nguyen Tran Pereira Gupta Chen Kuznetsov Okonkwo",
    ),
}
_COUNTRY_GROUP = {
    "US": "en",
    "GB": "en",
    "CA": "en",
    "DE": "de",
    "FR": "fr",
    "NL": "nl",
    "ES": "es",
    "IT": "it",
}


def slug(name: str) -> str:
    """ASCII, lower case, letters only: 'Müller' -> 'muller', "O'Brien" -> 'obrien'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalpha())


@dataclass(frozen=True)
class NameBook:
    """All names in one list per part; each group owns a contiguous slice."""

    first: list[str]
    last: list[str]
    first_slug: list[str]
    last_slug: list[str]
    first_range: dict[str, tuple[int, int]]
    last_range: dict[str, tuple[int, int]]

    def draw(self, countries: list[str], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Random (first, last) name indices for people from the given countries."""
        n = len(countries)
        groups = np.array([_COUNTRY_GROUP.get(c, "intl") for c in countries], dtype=object)
        first = np.zeros(n, dtype=np.int32)
        last = np.zeros(n, dtype=np.int32)
        u_first, u_last = rng.random(n), rng.random(n)
        for group in sorted(set(groups.tolist())):
            mask = groups == group
            lo, hi = self.first_range[group]
            first[mask] = lo + (u_first[mask] * (hi - lo)).astype(np.int32)
            lo, hi = self.last_range[group]
            last[mask] = lo + (u_last[mask] * (hi - lo)).astype(np.int32)
        return first, last


def build_namebook() -> NameBook:
    first: list[str] = []
    last: list[str] = []
    first_range: dict[str, tuple[int, int]] = {}
    last_range: dict[str, tuple[int, int]] = {}
    for group, (firsts, lasts) in _GROUPS.items():
        f = [w.replace("_", " ") for w in firsts.split()]
        surnames = [w.replace("_", " ") for w in lasts.split()]
        first_range[group] = (len(first), len(first) + len(f))
        last_range[group] = (len(last), len(last) + len(surnames))
        first += f
        last += surnames
    return NameBook(
        first=first,
        last=last,
        first_slug=[slug(n) for n in first],
        last_slug=[slug(n) for n in last],
        first_range=first_range,
        last_range=last_range,
    )
