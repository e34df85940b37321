//! Bulgaria's 28 regions (области, ISO 3166-2 `BG-01` to `BG-28`) and the distance between
//! their administrative centres, by which the partner-finding view puts the closest
//! candidates first.

/// Each region's administrative centre: latitude and longitude in degrees.
const CENTRES: [(&str, f64, f64); 28] = [
    ("BG-01", 42.02, 23.10), // Благоевград
    ("BG-02", 42.50, 27.47), // Бургас
    ("BG-03", 43.21, 27.91), // Варна
    ("BG-04", 43.08, 25.63), // Велико Търново
    ("BG-05", 43.99, 22.88), // Видин
    ("BG-06", 43.21, 23.55), // Враца
    ("BG-07", 42.87, 25.32), // Габрово
    ("BG-08", 43.57, 27.83), // Добрич
    ("BG-09", 41.65, 25.37), // Кърджали
    ("BG-10", 42.28, 22.69), // Кюстендил
    ("BG-11", 43.13, 24.72), // Ловеч
    ("BG-12", 43.41, 23.23), // Монтана
    ("BG-13", 42.19, 24.33), // Пазарджик
    ("BG-14", 42.60, 23.03), // Перник
    ("BG-15", 43.42, 24.61), // Плевен
    ("BG-16", 42.14, 24.75), // Пловдив
    ("BG-17", 43.53, 26.52), // Разград
    ("BG-18", 43.85, 25.97), // Русе
    ("BG-19", 44.12, 27.26), // Силистра
    ("BG-20", 42.68, 26.32), // Сливен
    ("BG-21", 41.58, 24.71), // Смолян
    ("BG-22", 42.70, 23.32), // София (столица)
    ("BG-23", 42.70, 23.32), // Софийска област, governed from Sofia
    ("BG-24", 42.43, 25.64), // Стара Загора
    ("BG-25", 43.25, 26.57), // Търговище
    ("BG-26", 41.93, 25.56), // Хасково
    ("BG-27", 43.27, 26.93), // Шумен
    ("BG-28", 42.48, 26.50), // Ямбол
];

/// The mean radius of the Earth, in kilometres.
const EARTH_KM: f64 = 6371.0;

fn centre(region: &str) -> Option<(f64, f64)> {
    CENTRES
        .iter()
        .find(|(code, _, _)| *code == region)
        .map(|(_, lat, lon)| (*lat, *lon))
}

/// The centres as three columns (codes, latitudes, longitudes), for the database to
/// compute distances beside its own ordering.
pub fn centres() -> (Vec<String>, Vec<f64>, Vec<f64>) {
    (
        CENTRES.iter().map(|(c, _, _)| c.to_string()).collect(),
        CENTRES.iter().map(|(_, lat, _)| *lat).collect(),
        CENTRES.iter().map(|(_, _, lon)| *lon).collect(),
    )
}

/// Whether `region` is one of Bulgaria's regions.
pub fn is_bulgarian(region: &str) -> bool {
    centre(region).is_some()
}

/// The great-circle distance between the centres of two regions, in whole kilometres: 0
/// within one region; `u32::MAX` for a region outside the table (sorted last).
pub fn distance_km(a: &str, b: &str) -> u32 {
    if a == b {
        return 0;
    }
    let (Some((lat1, lon1)), Some((lat2, lon2))) = (centre(a), centre(b)) else {
        return u32::MAX;
    };
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    (2.0 * EARTH_KM * h.sqrt().asin()).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_closer_than_the_far_side_of_the_country() {
        assert_eq!(distance_km("BG-22", "BG-22"), 0);
        let pernik = distance_km("BG-22", "BG-14");
        let varna = distance_km("BG-22", "BG-03");
        assert!(pernik < 40, "{pernik}");
        assert!((350..420).contains(&varna), "{varna}");
        assert_eq!(distance_km("BG-22", "RU-ALT"), u32::MAX);
        assert!(is_bulgarian("BG-28") && !is_bulgarian("BG-29"));
    }
}
