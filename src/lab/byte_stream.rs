//! byte-stream: (being written).

use std::io;

use super::{Point, Role, Run, said};

pub struct Lab;

impl super::Lab for Lab {
    fn name(&self) -> &'static str {
        "byte-stream"
    }

    fn title(&self) -> super::Said {
        said!("(being written)", "(em preparação)")
    }

    fn roles(&self, _variant: Option<&str>) -> Vec<Role> {
        vec![Role::SERVER, Role::CLIENT]
    }

    fn act(&self, _role: &str, _variant: Option<&str>) -> io::Result<()> {
        Ok(())
    }

    fn explain(&self, _run: &Run, _variant: Option<&str>) -> Vec<Point> {
        vec![Point::new(false, said!("(being written)", "(em preparação)"))]
    }
}
