#!/usr/bin/env python3
"""Generate the Lumen Freight message-language demo dataset.

Which language is a customer message written in: english, french, german or
spanish. The labels are plain words any base model has seen thousands of
times, so a careful prompt should already do the job: this is the demo's
task where fine-tuning is not expected to pay (prompting comes first).

Deterministic (seeded) and dependency-free. Writes train.jsonl, dev.jsonl and
test.jsonl next to this file. Run: python3 generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261130
SPLITS = [("train", 40), ("dev", 10), ("test", 20)]  # (name, examples per label)

TEMPLATES: dict[str, list[str]] = {
    "english": [
        "Hi, my parcel {order} still has not arrived in {city}.",
        "Could you please tell me where my order {order} is?",
        "The box arrived damaged, what should I do now?",
        "I would like to change the delivery address for {order}.",
        "Please cancel my subscription, thank you.",
        "I was charged twice for the same shipment last {day_en}.",
        "Can I pick up the package at your depot in {city} instead?",
        "Nobody came to deliver my parcel on {day_en}, can you check?",
        "I need an invoice for order {order} for my accountant.",
        "My password does not work and I cannot log in.",
        "How much does it cost to send {n} boxes to {city}?",
        "The tracking page has not changed for three days.",
        "Thanks for the quick help yesterday, everything arrived.",
        "Is it possible to deliver on {day_en} morning?",
    ],
    "french": [
        "Bonjour, mon colis {order} n'est toujours pas arrivé à {city}.",
        "Pourriez-vous me dire où se trouve ma commande {order} ?",
        "Le carton est arrivé abîmé, que dois-je faire maintenant ?",
        "Je voudrais changer l'adresse de livraison pour {order}.",
        "Merci d'annuler mon abonnement.",
        "J'ai été facturé deux fois pour le même envoi {day_fr} dernier.",
        "Puis-je récupérer le paquet à votre dépôt de {city} ?",
        "Personne n'est venu livrer mon colis {day_fr}, pouvez-vous vérifier ?",
        "J'ai besoin d'une facture pour la commande {order} pour mon comptable.",
        "Mon mot de passe ne fonctionne pas et je ne peux pas me connecter.",
        "Combien coûte l'envoi de {n} cartons vers {city} ?",
        "La page de suivi n'a pas changé depuis trois jours.",
        "Merci pour votre aide rapide hier, tout est bien arrivé.",
        "Est-il possible de livrer {day_fr} matin ?",
    ],
    "german": [
        "Hallo, mein Paket {order} ist immer noch nicht in {city} angekommen.",
        "Können Sie mir bitte sagen, wo meine Bestellung {order} ist?",
        "Der Karton kam beschädigt an, was soll ich jetzt tun?",
        "Ich möchte die Lieferadresse für {order} ändern.",
        "Bitte kündigen Sie mein Abonnement, danke.",
        "Mir wurde letzten {day_de} dieselbe Sendung zweimal berechnet.",
        "Kann ich das Paket stattdessen in Ihrem Depot in {city} abholen?",
        "Am {day_de} ist niemand gekommen, um mein Paket zu liefern, können Sie das prüfen?",
        "Ich brauche eine Rechnung für die Bestellung {order} für meinen Steuerberater.",
        "Mein Passwort funktioniert nicht und ich kann mich nicht anmelden.",
        "Wie viel kostet es, {n} Kartons nach {city} zu schicken?",
        "Die Sendungsverfolgung hat sich seit drei Tagen nicht geändert.",
        "Danke für die schnelle Hilfe gestern, alles ist angekommen.",
        "Ist eine Lieferung am {day_de} Vormittag möglich?",
    ],
    "spanish": [
        "Hola, mi paquete {order} todavía no ha llegado a {city}.",
        "¿Podrían decirme dónde está mi pedido {order}?",
        "La caja llegó dañada, ¿qué debo hacer ahora?",
        "Quisiera cambiar la dirección de entrega del pedido {order}.",
        "Por favor, cancelen mi suscripción, gracias.",
        "Me cobraron dos veces el mismo envío el {day_es} pasado.",
        "¿Puedo recoger el paquete en su almacén de {city}?",
        "Nadie vino a entregar mi paquete el {day_es}, ¿pueden revisarlo?",
        "Necesito una factura del pedido {order} para mi contable.",
        "Mi contraseña no funciona y no puedo iniciar sesión.",
        "¿Cuánto cuesta enviar {n} cajas a {city}?",
        "La página de seguimiento no ha cambiado en tres días.",
        "Gracias por la ayuda rápida de ayer, todo llegó bien.",
        "¿Es posible entregar el {day_es} por la mañana?",
    ],
}

CITIES = ["Leeds", "Lyon", "Porto", "Hamburg", "Valencia", "Dublin", "Antwerp", "Turin", "Graz"]
DAYS = {
    "day_en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "day_fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    "day_de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"],
    "day_es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
}


def make(rng: random.Random, label: str) -> str:
    """One message in ``label``'s language, its slots filled."""
    text = rng.choice(TEMPLATES[label])
    text = text.replace("{order}", f"#{rng.randint(100000, 999999)}")
    text = text.replace("{city}", rng.choice(CITIES)).replace("{n}", str(rng.randint(2, 9)))
    for key, names in DAYS.items():
        text = text.replace("{" + key + "}", rng.choice(names))
    return text


def main() -> None:
    rng = random.Random(SEED)
    here = Path(__file__).resolve().parent
    seen: set[str] = set()
    counter = 0
    for split, per_label in SPLITS:
        rows = []
        for label in TEMPLATES:
            made = 0
            while made < per_label:
                text = make(rng, label)
                if text in seen:
                    continue
                seen.add(text)
                rows.append({"text": text, "language": label})
                made += 1
        rng.shuffle(rows)
        with open(here / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                counter += 1
                f.write(json.dumps({"id": f"sl-{counter:04d}", **row}, ensure_ascii=False)
                        + "\n")
        print(f"wrote {split}.jsonl: {len(rows)} rows")


if __name__ == "__main__":
    main()
