//! Dates, instants and money as the Russian text of refusals shows them («15 марта 2031 г.
//! в 24:00 по московскому времени», «1 234,50 ₽»), so that a government system can show a
//! refusal's `LocalizedMessage` to an operator as it is. Machine fields stay UTC and kopecks;
//! this is only for people.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

const MONTHS_NOMINATIVE: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

/// «15 марта 2031 г.»
pub fn date(d: Date) -> String {
    format!(
        "{} {} {} г.",
        d.day(),
        MONTHS_GENITIVE[usize::from(d.month().unsigned_abs()) - 1],
        d.year()
    )
}

/// «март 2031 г.»
pub fn month(year: i16, month: i8) -> String {
    let index = usize::from(month.unsigned_abs()).clamp(1, 12) - 1;
    format!("{} {year} г.", MONTHS_NOMINATIVE[index])
}

/// «15 марта 2031 г. в 24:00 по московскому времени»: the instant in the programme's zone;
/// midnight is shown as 24:00 of the day before, as deadlines are written («до конца дня»).
pub fn instant(t: Timestamp, zone: &TimeZone) -> String {
    let local = t.to_zoned(zone.clone());
    let (day, clock) = if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        let before = local.date().yesterday().unwrap_or(local.date());
        (before, "24:00".to_string())
    } else {
        (
            local.date(),
            format!("{:02}:{:02}", local.hour(), local.minute()),
        )
    };
    format!("{} в {clock} {}", date(day), zone_phrase(zone, t))
}

/// «по московскому времени», or «по местному времени (Asia/Barnaul, UTC+07:00)».
fn zone_phrase(zone: &TimeZone, at: Timestamp) -> String {
    match zone.iana_name() {
        Some("Europe/Moscow") => "по московскому времени".to_string(),
        Some(name) => {
            let offset = zone.to_offset(at);
            let seconds = offset.seconds();
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.unsigned_abs() / 60;
            format!(
                "по местному времени ({name}, UTC{sign}{:02}:{:02})",
                minutes / 60,
                minutes % 60
            )
        }
        None => "по времени UTC".to_string(),
    }
}

/// «1 234,50 ₽» from kopecks.
pub fn roubles(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "−" } else { "" };
    let abs = kopecks.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{:02}\u{a0}₽", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_of_day_deadline_reads_as_24_00_in_the_programmes_zone() {
        let moscow = TimeZone::get("Europe/Moscow").expect("zone");
        let end_of_15_march: Timestamp = "2031-03-15T21:00:00Z".parse().expect("instant");
        assert_eq!(
            instant(end_of_15_march, &moscow),
            "15 марта 2031 г. в 24:00 по московскому времени"
        );
        let barnaul = TimeZone::get("Asia/Barnaul").expect("zone");
        let noon: Timestamp = "2024-09-01T05:00:00Z".parse().expect("instant");
        assert_eq!(
            instant(noon, &barnaul),
            "1 сентября 2024 г. в 12:00 по местному времени (Asia/Barnaul, UTC+07:00)"
        );
    }

    #[test]
    fn amounts_read_as_roubles_with_grouped_thousands() {
        assert_eq!(roubles(123_450), "1\u{a0}234,50\u{a0}₽");
        assert_eq!(roubles(50), "0,50\u{a0}₽");
        assert_eq!(roubles(600_000_000), "6\u{a0}000\u{a0}000,00\u{a0}₽");
        assert_eq!(month(2024, 9), "сентябрь 2024 г.");
    }
}
